"""eval.suite (suite names, config checks against a checkpoint) and the eval.run CLI end to end."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import json
import os
import subprocess
import sys
import tempfile

from absl.testing import absltest

from eval import scoring
from eval import suite
from experiments.configs import interaction as interaction_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args):
  return subprocess.run([sys.executable, "-m", "eval.run", *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=300)


class SuiteTest(absltest.TestCase):

  def test_suite_names(self):
    self.assertEqual(suite.suite_families("all"), list(scoring.FAMILIES))
    self.assertEqual(suite.suite_families("charades, timespeak"), ["timespeak", "charades"])
    for bad in ("karaoke", "timespeak,karaoke", ",", ""):
      with self.assertRaisesRegex(ValueError, "unknown suite"):
        suite.suite_families(bad)


class ConfigCheckTest(absltest.TestCase):

  def test_same_config_passes_through_json(self):
    config = interaction_config.get_config("tiny")
    saved = json.loads(config.to_json())  # Tuples come back as lists, as from a workdir.
    suite.check_same_model(type(config)(saved), config)

  def test_checkpoint_from_another_config_is_named(self):
    tiny = interaction_config.get_config("tiny")
    with tempfile.TemporaryDirectory() as workdir:
      with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(tiny.to_json())
      small = interaction_config.get_config("small")
      with self.assertRaisesRegex(ValueError, "another config: .*model.d_model: checkpoint 64 vs "
                                  "config 256"):
        suite.load_model(workdir, small)
      with self.assertRaisesRegex(FileNotFoundError, "no checkpoint"):
        suite.load_model(workdir, tiny)
    with self.assertRaisesRegex(FileNotFoundError, "not a directory, nor one of"):
      suite.load_model("/nonexistent/run", tiny)


class CliTest(absltest.TestCase):

  def test_oracle_suite_end_to_end(self):
    with tempfile.TemporaryDirectory() as out:
      done = cli("--checkpoint=oracle", "--suite=cuespeak", "--episodes_per_family=1",
                 f"--out={out}", "--modes=ours,baseline_response")
      self.assertEqual(done.returncode, 0, done.stderr[-2000:])
      self.assertIn("cuespeak", done.stdout)
      self.assertIn("TML-Small*", done.stdout)
      with open(os.path.join(out, "report.json")) as f:
        data = json.load(f)
      self.assertEqual(data["aggregates"]["ours"]["cuespeak"]["accuracy"], 1.0)
      self.assertEqual(data["aggregates"]["baseline_response"]["cuespeak"]["accuracy"], 0.0)
      self.assertTrue(os.path.exists(os.path.join(out, "timeline_cuespeak_0.png")))

  def test_bad_flags_fail_with_a_message(self):
    done = cli("--checkpoint=oracle", "--suite=all", "--episodes_per_family=0")
    self.assertNotEqual(done.returncode, 0)
    self.assertIn("eval.run: ValueError: episodes per family must be >= 1", done.stderr)
    done = cli("--checkpoint=oracle", "--modes=ours,chatty")
    self.assertIn("eval.run: ValueError: unknown mode 'chatty'", done.stderr)


if __name__ == "__main__":
  absltest.main()
