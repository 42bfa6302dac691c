"""The heldout interactivity suite as one call: model → episodes → modes → table, plots, JSON.

    written = suite.run_suite(suite.SuiteOptions(checkpoint="runs/tiny", out="runs/tiny/eval"))
    print(written["text"])

`SuiteOptions.checkpoint` is one of:
  a training workdir: `interaction.training.restore_for_inference` gives the
    saved config and the latest checkpoint's parameters; `config`, if given,
    must agree with the workdir's stream and model sections (checked before
    any parameter is read; the ValueError names the differing fields).
  "random": an explicitly random-initialized model of `config` seeded by its
    `seed` (plumbing checks; scores ~0).
  "oracle": no model, the rendered targets replayed (`players.OraclePlayer`):
    the ceiling of every mode; behind the harness it shows what the harness
    alone costs.
`suite` is "all", a family, or a comma-separated list of families.

Every episode is played tick by tick through `interaction.SessionEngine`
(`max_sessions` episodes per batched step) in each of `modes` (see
`eval.streaming`), scored, and written by `eval.report`. The same options give
the same report.json bit for bit.
"""

import dataclasses
import functools
import os
import time
from typing import Any

from data_pipelines import stream
from eval import baseline
from eval import episodes as episodes_lib
from eval import evaluate as evaluate_lib
from eval import players
from eval import report
from eval import scoring
from eval import streaming

SPECIAL_CHECKPOINTS = ("random", "oracle")


@dataclasses.dataclass(frozen=True)
class SuiteOptions:
  """What to evaluate and how (see the module docstring).

  config: the experiment config (ml_collections) for "random" / "oracle"
    (required there), or to check a workdir's against (None: no check).
  n_ticks: ticks per episode; None uses the config's data.n_ticks.
  seed: the heldout episodes' seed and the base of every session's sampling seed.
  temperature, top_k: the sampler (0, 0: greedy); flow_steps: Euler steps of the flow head.
  """
  checkpoint: str
  config: Any = None
  suite: str = "all"
  episodes_per_family: int = 4
  n_ticks: int | None = None
  out: str = "runs/eval"
  modes: tuple[str, ...] = streaming.MODES
  seed: int = 0
  temperature: float = 0.0
  top_k: int = 0
  flow_steps: int = 4
  max_sessions: int = 8
  plots_per_family: int = 1
  harness: baseline.HarnessConfig = baseline.HarnessConfig()


def suite_families(suite: str) -> list[str]:
  """The families of `suite` ("all", a family, or a comma-separated list), in report order."""
  if suite == "all":
    return list(scoring.FAMILIES)
  names = [s.strip() for s in suite.split(",") if s.strip()]
  unknown = [n for n in names if n not in scoring.FAMILIES]
  if unknown or not names:
    raise ValueError(f"unknown suite {suite!r}: expected 'all' or families from "
                     f"{list(scoring.FAMILIES)}, comma-separated")
  return [f for f in scoring.FAMILIES if f in names]


def check_same_model(saved, requested) -> None:
  """Raises ValueError naming the stream/model fields where `requested` differs from `saved`.

  Only fields that shape the parameters count (`training.param_fingerprint`):
  kernels and loss weights may differ between training and evaluation.
  """
  from interaction.training import trainer  # pylint: disable=g-import-not-at-top
  diffs = []
  for section in ("stream", "model"):
    a, b = (trainer.param_fingerprint(c)[section] for c in (saved, requested))
    diffs += [f"{section}.{k}: checkpoint {a.get(k)!r} vs config {b.get(k)!r}"
              for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
  if diffs:
    raise ValueError("the checkpoint was trained with another config: " + "; ".join(diffs))


def load_model(checkpoint: str, config):
  """(config, model) for a training workdir or "random" (see the module docstring)."""
  import interaction  # pylint: disable=g-import-not-at-top
  if checkpoint == "random":
    if config is None:
      raise ValueError("checkpoint 'random' needs a config to initialize")
    model = interaction.InteractionModel.from_config(config)
    return config, model
  if not os.path.isdir(checkpoint):
    raise FileNotFoundError(f"checkpoint {checkpoint!r} is not a directory, nor one of "
                            f"{SPECIAL_CHECKPOINTS}")
  from interaction import training  # pylint: disable=g-import-not-at-top
  if config is not None:  # Checked before any parameter is read.
    check_same_model(training.inference.load_config(checkpoint), config)
  return training.restore_for_inference(checkpoint)


def make_player(options: SuiteOptions):
  """(config, player) for `options.checkpoint`."""
  if options.checkpoint == "oracle":
    if options.config is None:
      raise ValueError("checkpoint 'oracle' needs a config for the stream layout")
    return options.config, players.OraclePlayer(options.max_sessions)
  config, model = load_model(options.checkpoint, options.config)
  import interaction  # pylint: disable=g-import-not-at-top
  new_engine = functools.partial(
      interaction.SessionEngine, model, max_sessions=options.max_sessions,
      max_ticks=options.n_ticks or config.data.n_ticks, flow_steps=options.flow_steps)
  sampler = interaction.SamplerConfig(seed=0, temperature=options.temperature, top_k=options.top_k)
  return config, players.EnginePlayer(new_engine, sampler, base_seed=options.seed)


def run_suite(options: SuiteOptions, progress: bool = True) -> dict[str, Any]:
  """Runs the suite; returns `report.write`'s paths and the table text ("text").

  Raises ValueError / FileNotFoundError for bad options (unknown suite or
  mode, empty split, a checkpoint from another config or missing) before
  the long work starts where it can.
  """
  families = suite_families(options.suite)
  for mode in options.modes:
    streaming.harness_for(mode, options.harness)  # Unknown modes fail before any work.
  config, player = make_player(options)
  n_ticks = options.n_ticks or config.data.n_ticks
  layout = stream.TickLayout.from_config(config.stream)
  start = time.time()
  if progress:
    print(f"building {options.episodes_per_family} heldout episodes x {len(families)} families "
          f"({n_ticks} ticks each)", flush=True)
  eps = episodes_lib.heldout(families, options.episodes_per_family, layout=layout,
                             n_ticks=n_ticks, seed=options.seed)
  evaluation = evaluate_lib.evaluate(player, eps, options.modes, options.harness, progress)
  meta = {"checkpoint": options.checkpoint, "suite": options.suite, "families": families,
          "episodes_per_family": options.episodes_per_family, "n_ticks": n_ticks,
          "seed": options.seed, "modes": list(options.modes), "variant": config.get("variant"),
          "sampler": {"temperature": options.temperature, "top_k": options.top_k,
                      "flow_steps": options.flow_steps},
          "harness": {"min_silence_ms": options.harness.turn.min_silence_ms,
                      "response_timeout_ms": options.harness.response_timeout_ms},
          "title": f"checkpoint={options.checkpoint} suite={options.suite} "
                   f"({options.episodes_per_family} heldout episodes per family)"}
  written = report.write(evaluation, options.out, meta, plots_per_family=options.plots_per_family)
  return dict(written, seconds=time.time() - start, evaluation=evaluation)
