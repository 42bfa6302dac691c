"""Faults and restores: non-finite steps, corrupt checkpoints, another mesh, inference restore.

One short run (tests/train_testing.py's small config, impl="xla", a 2-device
data-parallel mesh, checkpoints at steps 2 and 4) is shared by every test;
each test works on its own copy of the workdir.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import json
import os
import shutil
import tempfile

from absl.testing import absltest
from flax import nnx
import jax
import numpy as np

from interaction import sharding
from interaction import training
from tests import train_testing


def _config():
  return train_testing.small_config("xla", steps=4, checkpoint_every=2)


def _truncate_items(step_dir: str, item: str) -> None:
  """Empties every file of one item of a checkpoint (a corrupt write)."""
  for root, _, files in os.walk(os.path.join(step_dir, item)):
    for name in files:
      open(os.path.join(root, name), "w").close()


class FaultsTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.mkdtemp(prefix="train_faults_")
    jax.config.update("jax_compilation_cache_dir", os.path.join(cls.tmp, "jax_cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    cls.config = _config()
    cls.workdir = os.path.join(cls.tmp, "run")
    trainer = training.Trainer(cls.config, cls.workdir, mesh=cls._mesh_a())
    cls.params_at, cls.batches = {}, []
    try:
      while trainer.current_step < 4:
        cls.batches.append(next(trainer.train_iter))
        trainer.step(cls.batches[-1])
        if trainer.current_step % 2 == 0:
          trainer.save()
          cls.params_at[trainer.current_step] = train_testing.flat_params(trainer.params())
      cls.batches.append(next(trainer.train_iter))
      cls.step5_metrics = trainer.step(cls.batches[-1])  # After the last save.
    finally:
      trainer.close()

  @classmethod
  def _mesh_a(cls):
    return train_testing.mesh_for(_config(), 2)

  def _copy(self, name: str) -> str:
    target = os.path.join(self.tmp, name)
    shutil.copytree(self.workdir, target)
    return target

  def _assert_params(self, params, expected: dict):
    got = train_testing.flat_params(params)
    self.assertEqual(sorted(got), sorted(expected))
    for name in expected:
      np.testing.assert_array_equal(got[name], expected[name], err_msg=name)

  def test_resume_takes_the_latest(self):
    trainer = training.Trainer(self.config, self._copy("latest"), mesh=self._mesh_a())
    try:
      self.assertEqual(trainer.current_step, 4)
      self._assert_params(trainer.params(), self.params_at[4])
    finally:
      trainer.close()

  def test_corrupt_latest_falls_back_to_previous_with_warning(self):
    workdir = self._copy("corrupt")
    _truncate_items(os.path.join(workdir, "checkpoints", "4"), "params")
    with self.assertLogs(level="WARNING") as logs:
      trainer = training.Trainer(self.config, workdir, mesh=self._mesh_a())
    try:
      self.assertTrue(any("step 4" in line and "corrupt or partial" in line
                          for line in logs.output), logs.output)
      self.assertEqual(trainer.current_step, 2)
      self._assert_params(trainer.params(), self.params_at[2])
      # The data position came back with step 2: the next batch is the run's third.
      np.testing.assert_array_equal(next(trainer.train_iter)["tokens"], self.batches[2]["tokens"])
    finally:
      trainer.close()

  def test_partial_latest_without_an_item_falls_back(self):
    workdir = self._copy("partial")
    shutil.rmtree(os.path.join(workdir, "checkpoints", "4", "opt_state"))
    with self.assertLogs(level="WARNING"):
      trainer = training.Trainer(self.config, workdir, mesh=self._mesh_a())
    try:
      self.assertEqual(trainer.current_step, 2)
    finally:
      trainer.close()

  def test_no_usable_checkpoint_raises(self):
    workdir = self._copy("all_corrupt")
    for step in ("2", "4"):
      _truncate_items(os.path.join(workdir, "checkpoints", step), "params")
    with self.assertRaisesRegex(training.NoUsableCheckpointError, r"\[2, 4\]"):
      training.Trainer(self.config, workdir, mesh=self._mesh_a())

  def test_restore_onto_another_mesh(self):
    # fsdp=2 on two other devices: the embedding dimension is now sharded.
    config = _config()
    config.mesh.update(dict(data=1, fsdp=-1))
    mesh_b = sharding.make_mesh(config, devices=jax.devices()[4:6])
    trainer = training.Trainer(config, self._copy("mesh_b"), mesh=mesh_b)
    try:
      self.assertEqual(trainer.current_step, 4)
      self._assert_params(trainer.params(), self.params_at[4])
      specs = {str(x.sharding.spec) for x in jax.tree.leaves(trainer.params())}
      self.assertTrue(any("fsdp" in s for s in specs), specs)
      self.assertEqual({d.id for x in jax.tree.leaves(trainer.params()) for d in x.devices()},
                       {d.id for d in jax.devices()[4:6]})
      metrics = trainer.step(next(trainer.train_iter))  # The same fifth batch, another mesh.
      for name in ("loss/total", "loss/text", "loss/flow", "grad_norm"):
        np.testing.assert_allclose(metrics[name], self.step5_metrics[name], rtol=1e-5,
                                   err_msg=name)
    finally:
      trainer.close()

  def test_nonfinite_steps_are_rejected_then_halt(self):
    config = _config()
    config.train.max_consecutive_nonfinite = 2
    trainer = training.Trainer(config, os.path.join(self.tmp, "nonfinite"), mesh=self._mesh_a())
    good = self.batches[0]
    bad = dict(good, audio_out=np.full_like(good["audio_out"], np.nan))
    try:
      before = train_testing.flat_params(trainer.params())
      with self.assertLogs(level="WARNING") as logs:
        metrics = trainer.step(bad)
      self.assertIn("step 1 rejected: non-finite", logs.output[0])
      self.assertEqual((metrics["finite"], metrics["consecutive_nonfinite"]), (False, 1))
      self._assert_params(trainer.params(), before)
      opt_state = jax.tree.leaves(trainer.state["opt_state"])
      self.assertTrue(all(np.all(np.asarray(x) == 0) for x in opt_state))  # Still fresh.
      metrics = trainer.step(good)
      self.assertEqual((metrics["finite"], metrics["consecutive_nonfinite"]), (True, 0))
      self.assertEqual(metrics["rejected"], 1)
      self.assertEqual(metrics["learning_rate"], 0.0)  # The optimizer's first update.
      trainer.step(bad)
      with self.assertRaisesRegex(training.NonFiniteError, "2 consecutive steps"):
        trainer.step(bad)
      self.assertEqual(trainer.current_step, 4)
      self.assertEqual(int(trainer.state["rejected"]), 3)
    finally:
      trainer.close()

  def test_run_logs_evaluates_and_checkpoints(self):
    config = _config()
    config.train.update(dict(steps=2, log_every=2, eval_every=2, eval_batches=1))
    workdir = os.path.join(self.tmp, "run_loop")
    trainer = training.Trainer(config, workdir, mesh=self._mesh_a())
    try:
      history = trainer.run()
    finally:
      trainer.close()
    train_row, eval_row = history
    for name in ("loss/total", "loss/text", "loss/flow", "learning_rate", "grad_norm",
                 "tokens_per_s", "step_s", "data_wait_s"):
      self.assertTrue(np.isfinite(train_row[name]), name)
    self.assertBetween(eval_row["eval/timing_accuracy"], 0.0, 1.0)
    self.assertGreater(eval_row["eval/silence_share"], 0.5)  # The model mostly listens.
    self.assertEqual(os.listdir(os.path.join(workdir, "checkpoints")), ["2"])
    self.assertTrue(os.listdir(os.path.join(workdir, "tensorboard")))

  def test_restore_for_inference(self):
    workdir = self._copy("inference")
    config, model = training.restore_for_inference(workdir)
    self.assertEqual(config.model.d_model, self.config.model.d_model)
    self._assert_params(nnx.to_pure_dict(nnx.state(model)), self.params_at[4])
    # A checkpoint from another config: a clear error, not a shape mismatch deep in orbax.
    other = json.load(open(os.path.join(workdir, "config.json")))
    other["model"]["d_model"] = 48
    with open(os.path.join(workdir, "config.json"), "w") as f:
      json.dump(other, f)
    with self.assertRaisesRegex(ValueError, "another model/stream config"):
      training.restore_for_inference(workdir)

  def test_restore_for_inference_skips_a_corrupt_latest(self):
    workdir = self._copy("inference_corrupt")
    _truncate_items(os.path.join(workdir, "checkpoints", "4"), "params")
    with self.assertLogs(level="WARNING"):
      _, model = training.restore_for_inference(workdir)
    self._assert_params(nnx.to_pure_dict(nnx.state(model)), self.params_at[2])


if __name__ == "__main__":
  absltest.main()
