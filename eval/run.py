r"""Evaluates a model on the heldout interactivity suite, ours vs the VAD-harness baselines.

  python -m eval.run --checkpoint=runs/tiny --suite=all --episodes_per_family=4 \
      --max_sessions=28 --out=runs/tiny/eval

--checkpoint: a training workdir, "random" (a random-initialized --config
model) or "oracle" (the targets replayed); --config defaults to the tiny
variant and, given with a workdir, must match it. --suite: "all", a family,
or a comma-separated list. See `eval.suite` for the rest. Prints the table and
writes table.txt, report.json and timeline_<family>_<index>.png into --out.
Bad options exit with a one-line "eval.run: ..." message.
"""

from collections.abc import Sequence
import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from eval import baseline
from eval import streaming
from eval import suite
from eval import vad

_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "experiments/configs/interaction.py:tiny")
_CONFIG = config_flags.DEFINE_config_file(
    "config", _DEFAULT_CONFIG, "Experiment config (for random/oracle, or to check a workdir).")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "Training workdir, 'random' or 'oracle'.")
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


def options_from_flags() -> suite.SuiteOptions:
  checkpoint = _CHECKPOINT.value
  if not checkpoint:
    raise app.UsageError("--checkpoint is required: a training workdir, 'random' or 'oracle'")
  # With a workdir, --config is only a check, and only when given explicitly.
  given = checkpoint in suite.SPECIAL_CHECKPOINTS or flags.FLAGS["config"].present
  return suite.SuiteOptions(
      checkpoint=checkpoint, config=_CONFIG.value if given else None, suite=_SUITE.value,
      episodes_per_family=_EPISODES.value, n_ticks=_N_TICKS.value, out=_OUT.value,
      modes=tuple(_MODES.value), seed=_SEED.value, temperature=_TEMPERATURE.value,
      top_k=_TOP_K.value, flow_steps=_FLOW_STEPS.value, max_sessions=_MAX_SESSIONS.value,
      plots_per_family=_PLOTS.value,
      harness=baseline.HarnessConfig(turn=vad.TurnConfig(min_silence_ms=_MIN_SILENCE.value),
                                     response_timeout_ms=_TIMEOUT.value))


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  logging.set_verbosity(logging.WARNING)  # orbax logs every restore step at INFO.
  try:
    written = suite.run_suite(options_from_flags())
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f"eval.run: {type(e).__name__}: {e}")
  print(written["text"])
  print(f"wrote {written['table']}, {written['json']} and {len(written['plots'])} timeline plots "
        f"in {_OUT.value} ({written['seconds']:.0f} s)")


if __name__ == "__main__":
  app.run(main)
