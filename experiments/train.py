r"""Trains an interaction model (a thin launcher over `interaction.training`).

  python -m experiments.train --config=experiments/configs/interaction.py:tiny \
      --workdir=runs/tiny --config.train.steps=300 --config.model.impl=pallas

Resumes from the latest usable checkpoint in --workdir/checkpoints. TensorBoard
scalars go to --workdir/tensorboard; the config is saved as --workdir/config.json.
Multi-host: set --config.train.distributed=True on every host.
"""

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from interaction import training

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file, e.g. experiments/configs/interaction.py:tiny.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and the config.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO.
  trainer = training.Trainer(_CONFIG.value, _WORKDIR.value)
  try:
    start = trainer.current_step
    print(f"resumed at step {start}" if start else "starting at step 0", f"in {_WORKDIR.value} on "
          f"mesh {dict(trainer.mesh.shape)}", flush=True)
    trainer.run()
  finally:
    trainer.close()


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  app.run(main)
