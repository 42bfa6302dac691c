"""Shared helpers of the training tests: a short scenario family and a small tiny config.

Real families need 60-75 ticks; the training tests use `train_count` (the user
asks for a count, the assistant answers) over 20 ticks, through the real
pipeline (espeak speech, grain batching and iterator state), so a step costs
little. `python -m tests.train_testing --workdir=D --steps=N --impl=pallas`
is the driver the SIGKILL test runs as a subprocess: it prints "start <s>", then
"step <s> committed <c>" after every step (c: the newest checkpoint completely
on disk; saves are asynchronous), then writes the final params to
D/final_params.npz.
"""

import ml_collections
import numpy as np

from data_pipelines import episode
from data_pipelines import scenarios
from data_pipelines.scenarios import common
from experiments.configs import interaction as interaction_config

FAMILY = "train_count"


def _make_script(rng, split, n_ticks, tick_ms):
  count = int(rng.integers(1, 10))
  return episode.EpisodeScript(
      family=FAMILY, n_ticks=n_ticks,
      lines=(episode.Line("user", f"Count to {count}.", int(rng.integers(0, 600)),
                          common.user_voice(rng, split)),
             episode.Line("model", f"{count}.", 10 * tick_ms, common.ASSISTANT_VOICE)),
      truth={"count": count})


def register_family() -> None:
  """Adds `train_count` to the scenario registry (idempotent)."""
  scenarios.FAMILIES.setdefault(FAMILY, common.Family(FAMILY, _make_script))


def small_config(impl: str = "xla", *, steps: int = 4, batch_size: int = 2,
                 checkpoint_every: int = 2) -> ml_collections.ConfigDict:
  """The tiny variant shrunk for tests: 20-tick episodes, a one-layer d_model-32 model."""
  register_family()
  config = interaction_config.get_config("tiny")
  config.data.families = ml_collections.ConfigDict({FAMILY: 1.0})
  config.data.n_ticks, config.data.batch_size = 20, batch_size
  config.data.episodes_per_epoch, config.data.prefetch_threads = 16, 1
  config.model.update(dict(d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, head_dim=16,
                           d_ff=32, hmlp_dims=(8, 16), flow_dim=32, flow_layers=1, impl=impl))
  config.train.update(dict(steps=steps, warmup_steps=2, log_every=1, eval_every=0,
                           checkpoint_every=checkpoint_every, checkpoint_keep=5))
  return config


def mesh_for(config, n_devices: int):
  """`config`'s mesh over the first `n_devices` devices (its -1 axis takes them all)."""
  import jax  # pylint: disable=g-import-not-at-top  (the driver configures JAX first)
  from interaction import sharding  # pylint: disable=g-import-not-at-top
  return sharding.make_mesh(config, devices=jax.devices()[:n_devices])


def flat_params(params) -> dict[str, np.ndarray]:
  """Parameters as {"a/b/c": array} (host copies), for bit-exact comparisons and npz files."""
  import jax  # pylint: disable=g-import-not-at-top  (the driver configures JAX first)
  leaves = jax.tree_util.tree_leaves_with_path(params)
  return {jax.tree_util.keystr(path, simple=True, separator="/"): np.asarray(jax.device_get(x))
          for path, x in leaves}


def main():
  """The subprocess driver (see the module docstring)."""
  import argparse  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top

  from tests import testing  # pylint: disable=g-import-not-at-top,unused-import
  from interaction import training  # pylint: disable=g-import-not-at-top

  parser = argparse.ArgumentParser()
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--steps", type=int, required=True)
  parser.add_argument("--impl", default="pallas")
  args = parser.parse_args()
  config = small_config(args.impl, steps=args.steps)
  trainer = training.Trainer(config, args.workdir, mesh=mesh_for(config, 2))
  print(f"start {trainer.current_step}", flush=True)
  while trainer.current_step < args.steps:
    trainer.step(next(trainer.train_iter))
    if trainer.current_step % trainer.train_cfg.checkpoint_every == 0:
      trainer.save()
    committed = max(trainer.checkpoints.manager.all_steps(read=True), default=0)
    print(f"step {trainer.current_step} committed {committed}", flush=True)
  trainer.close()
  np.savez(os.path.join(args.workdir, "final_params.npz"), **flat_params(trainer.params()))


if __name__ == "__main__":
  main()
