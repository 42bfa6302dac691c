r"""Evaluates a model on the heldout interactivity suite, ours vs the VAD-harness baselines.

  python -m eval.run --checkpoint=runs/train_tiny --suite=all --out=runs/eval

--checkpoint is one of:
  DIR     a training workdir: `interaction.training.restore_for_inference(DIR)`
          gives the saved config and the latest checkpoint's parameters.
          --config, if given, must agree with the checkpoint's stream and model
          sections (else a ValueError names the differing fields).
  random  an explicitly random-initialized model of --config (default the tiny
          variant), seeded by its `seed`: plumbing checks, scores ~0.
  oracle  no model: the rendered targets replayed (`players.OraclePlayer`), the
          ceiling of every mode; under the harness it shows what the harness
          alone costs.
--suite: "all", a family name, or a comma-separated list of families.

Every episode is played tick by tick through `interaction.SessionEngine`
(batched over --max_sessions episodes) in each of --modes ("ours",
"baseline_response", "baseline_floor"; see `eval.streaming`). Prints the table
and writes into --out: table.txt, report.json (every number) and
timeline_<family>_<index>.png.
"""

from collections.abc import Sequence
import functools
import json
import os
import sys
import time

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from data_pipelines import stream
from eval import baseline
from eval import episodes as episodes_lib
from eval import evaluate as evaluate_lib
from eval import players
from eval import report
from eval import scoring
from eval import streaming
from eval import vad

_DEFAULT_CONFIG = "experiments/configs/interaction.py:tiny"
_CONFIG = config_flags.DEFINE_config_file(
    "config", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           _DEFAULT_CONFIG), "Experiment config (for --checkpoint=random/oracle).")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None,
                                  "Training workdir, 'random' or 'oracle' (see the docstring).")
_SUITE = flags.DEFINE_string("suite", "all", "'all', a family, or a comma-separated list.")
_EPISODES = flags.DEFINE_integer("episodes_per_family", 4, "Heldout episodes per family.")
_N_TICKS = flags.DEFINE_integer("n_ticks", None, "Ticks per episode (default config.data.n_ticks).")
_OUT = flags.DEFINE_string("out", "runs/eval", "Output directory (table, JSON, plots).")
_MODES = flags.DEFINE_list("modes", list(streaming.MODES), "Modes to evaluate.")
_SEED = flags.DEFINE_integer("seed", 0, "Heldout episode seed and base sampling seed.")
_TEMPERATURE = flags.DEFINE_float("temperature", 0.0, "Sampling temperature (0: greedy).")
_TOP_K = flags.DEFINE_integer("top_k", 0, "Top-k sampling (0: off).")
_FLOW_STEPS = flags.DEFINE_integer("flow_steps", 4, "Euler steps of the flow head.")
_MAX_SESSIONS = flags.DEFINE_integer("max_sessions", 8, "Sessions stepped together.")
_PLOTS = flags.DEFINE_integer("plots_per_family", 1, "Timeline plots per family.")
_MIN_SILENCE = flags.DEFINE_float("min_silence_ms", 500.0, "Harness: silence that ends a turn.")
_TIMEOUT = flags.DEFINE_float("response_timeout_ms", 1000.0,
                              "Harness (response policy): time to start answering.")

SPECIAL_CHECKPOINTS = ("random", "oracle")


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
  """Raises ValueError naming the stream/model fields where `requested` differs from `saved`."""
  diffs = []
  for section in ("stream", "model"):
    a, b = (json.loads(json.dumps(c[section].to_dict())) for c in (saved, requested))
    diffs += [f"{section}.{k}: checkpoint {a.get(k)!r} vs --config {b.get(k)!r}"
              for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
  if diffs:
    raise ValueError("the checkpoint was trained with another config: " + "; ".join(diffs))


def load_model(checkpoint: str, config, config_given: bool):
  """(config, model) for a training workdir or 'random' (see the module docstring)."""
  from flax import nnx  # pylint: disable=g-import-not-at-top
  import interaction  # pylint: disable=g-import-not-at-top
  if checkpoint == "random":
    layout = stream.TickLayout.from_config(config.stream)
    model_cfg = interaction.ModelConfig.from_config(config.model)
    with nnx.use_eager_sharding(False):  # Unsharded parameters, as restore_for_inference gives.
      model = interaction.InteractionModel(layout, model_cfg, rngs=nnx.Rngs(config.seed))
    return config, model
  if not os.path.isdir(checkpoint):
    raise FileNotFoundError(f"--checkpoint={checkpoint!r} is not a directory, nor one of "
                            f"{SPECIAL_CHECKPOINTS}")
  from interaction import training  # pylint: disable=g-import-not-at-top
  if config_given:  # Checked before any parameter is read.
    check_same_model(training.inference.load_config(checkpoint), config)
  return training.restore_for_inference(checkpoint)


def make_player(checkpoint: str, config, config_given: bool):
  """(config, player) for --checkpoint."""
  if checkpoint == "oracle":
    return config, players.OraclePlayer(_MAX_SESSIONS.value)
  config, model = load_model(checkpoint, config, config_given)
  max_ticks = _N_TICKS.value or config.data.n_ticks
  import interaction  # pylint: disable=g-import-not-at-top
  new_engine = functools.partial(interaction.SessionEngine, model, max_sessions=_MAX_SESSIONS.value,
                                 max_ticks=max_ticks, flow_steps=_FLOW_STEPS.value)
  sampler = interaction.SamplerConfig(seed=0, temperature=_TEMPERATURE.value, top_k=_TOP_K.value)
  return config, players.EnginePlayer(new_engine, sampler, base_seed=_SEED.value)


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  logging.set_verbosity(logging.WARNING)  # orbax logs every restore step at INFO.
  try:
    evaluate_flags()
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f"eval.run: {type(e).__name__}: {e}")


def evaluate_flags() -> None:
  """The evaluation the flags describe: builds, plays, scores, prints and writes."""
  checkpoint = _CHECKPOINT.value
  if not checkpoint:
    raise app.UsageError("--checkpoint is required: a training workdir, 'random' or 'oracle'")
  families = suite_families(_SUITE.value)
  for mode in _MODES.value:
    streaming.harness_for(mode, baseline.HarnessConfig())  # Unknown modes fail before any work.
  config, player = make_player(checkpoint, _CONFIG.value, flags.FLAGS["config"].present)
  n_ticks = _N_TICKS.value or config.data.n_ticks
  layout = stream.TickLayout.from_config(config.stream)
  start = time.time()
  print(f"building {_EPISODES.value} heldout episodes x {len(families)} families "
        f"({n_ticks} ticks each)", flush=True)
  eps = episodes_lib.heldout(families, _EPISODES.value, layout=layout, n_ticks=n_ticks,
                             seed=_SEED.value)
  harness = baseline.HarnessConfig(turn=vad.TurnConfig(min_silence_ms=_MIN_SILENCE.value),
                                   response_timeout_ms=_TIMEOUT.value)
  evaluation = evaluate_lib.evaluate(player, eps, _MODES.value, harness, progress=True)
  meta = {"checkpoint": checkpoint, "suite": _SUITE.value, "families": families,
          "episodes_per_family": _EPISODES.value, "n_ticks": n_ticks, "seed": _SEED.value,
          "modes": list(_MODES.value), "variant": config.get("variant"),
          "sampler": {"temperature": _TEMPERATURE.value, "top_k": _TOP_K.value,
                      "flow_steps": _FLOW_STEPS.value},
          "harness": {"min_silence_ms": _MIN_SILENCE.value,
                      "response_timeout_ms": _TIMEOUT.value},
          "title": f"checkpoint={checkpoint} suite={_SUITE.value} "
                   f"({_EPISODES.value} heldout episodes per family)"}
  written = report.write(evaluation, _OUT.value, meta, plots_per_family=_PLOTS.value)
  print(written["text"])
  print(f"wrote {written['table']}, {written['json']} and {len(written['plots'])} timeline plots "
        f"in {_OUT.value} ({time.time() - start:.0f} s)")


if __name__ == "__main__":
  app.run(main)
