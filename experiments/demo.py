r"""The main job: train the tiny config on the data suite, then evaluate it against the harness.

  python -m experiments.demo --config=experiments/configs/interaction.py:tiny \
      --workdir=runs/demo --steps=1000

1. Trains `--steps` steps into --workdir with `interaction.training` (resuming
   from the workdir's checkpoints, so a second run goes straight to step 2).
2. Plays `--episodes_per_family` heldout episodes of every scenario family
   tick by tick through `interaction.SessionEngine`, once as the micro-turn
   model ("ours") and once behind the turn-based Silero-VAD harness (one
   response per detected turn end, `eval.baseline`), and scores both.
3. Prints the table and where the timeline plots and the JSON of every number are.

`run(config, workdir, steps, ...)` does the same from a notebook. Shown with
`python -m data_pipelines.show --text=...` instead: how any sentence looks in the stream.
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from eval import suite as suite_lib
from interaction import training

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file, e.g. experiments/configs/interaction.py:tiny.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and the report.")
# ~0.9 s per tiny step on 2 CPU cores: training and evaluation take ~17 minutes.
DEFAULT_STEPS = 1000
DEFAULT_EPISODES_PER_FAMILY = 8

_STEPS = flags.DEFINE_integer("steps", DEFAULT_STEPS, "Training steps.")
_EPISODES = flags.DEFINE_integer("episodes_per_family", DEFAULT_EPISODES_PER_FAMILY,
                                 "Heldout episodes per family.")
_SUITE = flags.DEFINE_string("suite", "all", "'all', a family, or a comma-separated list.")

MODES = ("ours", "baseline_response")


def run(config, workdir: str, steps: int = DEFAULT_STEPS, *,
        episodes_per_family: int = DEFAULT_EPISODES_PER_FAMILY,
        suite: str = "all") -> dict:
  """Trains to `steps`, evaluates ours vs the harness; returns the suite's written paths and table."""
  if steps < 1:
    raise ValueError(f"steps must be >= 1, got {steps}")
  suite_lib.suite_families(suite)  # An unknown suite fails before training.
  config = config.copy_and_resolve_references()
  config.train.steps = steps
  # A short run warms up over its first tenth (the config's warmup is sized for its own length).
  config.train.warmup_steps = min(config.train.warmup_steps, steps // 10)
  print(f"[1/2] training {config.variant} for {steps} steps in {workdir}", flush=True)
  training.train(config, workdir)
  print(f"[2/2] evaluating {episodes_per_family} heldout episodes per family: ours vs the "
        "VAD harness", flush=True)
  written = suite_lib.run_suite(suite_lib.SuiteOptions(
      checkpoint=workdir, config=config, suite=suite, episodes_per_family=episodes_per_family,
      out=f"{workdir}/eval", modes=MODES, max_sessions=28))
  print(written["text"])
  print(f"wrote {written['table']}, {written['json']} and {len(written['plots'])} timeline plots "
        f"(expected vs actual speech per tick) in {workdir}/eval", flush=True)
  return written


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  run(_CONFIG.value, _WORKDIR.value, _STEPS.value, episodes_per_family=_EPISODES.value,
      suite=_SUITE.value)


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  app.run(main)
