"""Reproducibility: repeat runs and a SIGKILL-and-resume run end with bit-identical parameters.

impl="pallas" (the batch-invariant kernels, interpret mode on CPU), the small
test config (tests/train_testing.py) on a 2-device data-parallel mesh. A
persistent compilation cache shared with the subprocesses keeps the three
compiles of the same program down to one.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import os
import random
import signal
import subprocess
import sys
import tempfile

from absl.testing import absltest
import jax
import numpy as np

from interaction import training
from tests import train_testing

STEPS = 8
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_in_process(workdir: str) -> dict[str, np.ndarray]:
  config = train_testing.small_config("pallas", steps=STEPS)
  trainer = training.Trainer(config, workdir, mesh=train_testing.mesh_for(config, 2))
  try:
    while trainer.current_step < STEPS:
      trainer.step(next(trainer.train_iter))
    return train_testing.flat_params(trainer.params())
  finally:
    trainer.close()


class ResumeTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.mkdtemp(prefix="train_resume_")
    cls.cache_dir = os.path.join(cls.tmp, "jax_cache")
    jax.config.update("jax_compilation_cache_dir", cls.cache_dir)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    cls.reference = _run_in_process(os.path.join(cls.tmp, "reference"))

  def _assert_bit_identical(self, got: dict, expected: dict):
    self.assertEqual(sorted(got), sorted(expected))
    for name in expected:
      np.testing.assert_array_equal(got[name], expected[name], err_msg=name)

  def test_repeat_run_is_bit_identical(self):
    self._assert_bit_identical(_run_in_process(os.path.join(self.tmp, "repeat")), self.reference)

  def test_sigkill_and_resume_is_bit_identical(self):
    workdir = os.path.join(self.tmp, "killed")
    # Killed at a random step once a checkpoint is completely on disk (saves are async).
    kill_after = random.SystemRandom().randint(3, STEPS - 2)
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=self.cache_dir,
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0.5")
    command = [sys.executable, "-m", "tests.train_testing", f"--workdir={workdir}",
               f"--steps={STEPS}", "--impl=pallas"]
    victim = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    killed_at = None
    for line in victim.stdout:
      words = line.split()
      if len(words) == 4 and words[0] == "step" and int(words[1]) >= kill_after and int(words[3]):
        victim.send_signal(signal.SIGKILL)
        killed_at = int(words[1])
        break
    victim.wait(timeout=60)
    self.assertEqual(victim.returncode, -signal.SIGKILL,
                     f"the run ended before a checkpoint was committed at step >= {kill_after}")
    self.assertFalse(os.path.exists(os.path.join(workdir, "final_params.npz")))
    resumed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=600, check=False)
    self.assertEqual(resumed.returncode, 0, resumed.stderr[-3000:])
    start = int(resumed.stdout.split()[1])
    self.assertBetween(start, 2, killed_at, f"resumed at {start}, killed after {killed_at}")
    with np.load(os.path.join(workdir, "final_params.npz")) as final:
      self._assert_bit_identical(dict(final), self.reference)


if __name__ == "__main__":
  absltest.main()
