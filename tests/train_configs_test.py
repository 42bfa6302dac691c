"""Every variant of every experiment config builds its model and runs one training step.

Variants under CONCRETE_MAX_PARAMS parameters (tiny, small) build real
parameters on one device and take one real step (no warmup) on a toy batch
of 2 ticks: accepted, finite losses, parameters moved, MoE aux losses reported. Larger
ones (1b, moe_large) are built abstractly (`build_program(abstract=True)`,
shapes and shardings only) on their configured mesh over the 8 fake devices,
and their train step is traced with `jax.eval_shape` on a full-size batch.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import glob
import importlib
import math
import os

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from interaction import sharding
from interaction import toy_data
from interaction.training import program as program_lib

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "experiments", "configs")
CONCRETE_MAX_PARAMS = 20_000_000


def _variants():
  for path in sorted(glob.glob(os.path.join(CONFIG_DIR, "*.py"))):
    name = os.path.splitext(os.path.basename(path))[0]
    if name == "__init__":
      continue
    module = importlib.import_module(f"experiments.configs.{name}")
    for variant in getattr(module, "VARIANTS", (None,)):
      yield dict(testcase_name=f"{name}_{variant}", module=module, variant=variant)


def _param_count(state) -> int:
  return sum(math.prod(x.shape) for x in jax.tree.leaves(state["params"]))


def _abstract_batch(layout, n_ticks: int, batch_size: int) -> dict:
  """ShapeDtypeStructs of a [batch_size, n_ticks-tick] batch (per-tick shapes from a toy tick)."""
  one = toy_data.toy_batch(layout, 1, 1)
  return {k: jax.ShapeDtypeStruct((batch_size, v.shape[1] * n_ticks) + v.shape[2:], v.dtype)
          for k, v in one.items()}


class ConfigsTest(parameterized.TestCase):

  @parameterized.named_parameters(*_variants())
  def test_builds_and_steps(self, module, variant):
    config = module.get_config(*([] if variant is None else [variant]))
    abstract = program_lib.build_program(config, sharding.make_mesh(config), abstract=True)
    n_params = _param_count(abstract.state)
    if n_params > CONCRETE_MAX_PARAMS:
      batch = _abstract_batch(abstract.layout, config.data.n_ticks, config.data.batch_size)
      with abstract.context():
        state, metrics = jax.eval_shape(abstract.train_step, abstract.state, batch)
      self.assertEqual(jax.tree.structure(state), jax.tree.structure(abstract.state))
      self.assertEqual(metrics["loss/total"].shape, ())
      if config.model.n_experts:
        self.assertIn("loss/load_balance", metrics)
      return
    config.train.warmup_steps = 0  # So that the one step moves the parameters.
    program = program_lib.build_program(config, sharding.make_mesh(config, jax.devices()[:1]))
    batch = toy_data.toy_batch(program.layout, 2, 1)
    with program.context():
      state, metrics = program.train_step(program.state, batch)
    self.assertTrue(bool(metrics["finite"]))
    self.assertTrue(np.isfinite(float(metrics["loss/total"])))
    self.assertGreater(float(metrics["grad_norm"]), 0.0)
    self.assertEqual("loss/load_balance" in metrics, bool(config.model.n_experts))
    self.assertEqual(int(state["step"]), 1)
    before, after = jax.tree.leaves(program.state["params"]), jax.tree.leaves(state["params"])
    self.assertTrue(any(not np.array_equal(a, b) for a, b in zip(before, after)))

if __name__ == "__main__":
  absltest.main()
