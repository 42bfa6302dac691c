"""The stream view, the `data_pipelines.show` CLI, and the demo: train then evaluate, end to end."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import json
import os
import subprocess
import sys

from absl.testing import absltest
import numpy as np

from data_pipelines import audio
from data_pipelines import stream
from data_pipelines import stream_view
from experiments import demo
from experiments.configs import interaction

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class StreamViewTest(absltest.TestCase):

  def test_speech_through_the_stream(self):
    layout = stream.TickLayout.from_config(interaction.get_config("tiny").stream)
    view = stream_view.build_stream("Count down from five.", layout)
    self.assertEqual(len(view.wave) % layout.samples_per_tick, 0)
    self.assertEqual(view.n_ticks, len(view.wave) // layout.samples_per_tick)
    self.assertEqual(view.codes.shape, (view.n_ticks * layout.frames_per_tick, 80))
    np.testing.assert_array_equal(view.codes, audio.dmel_encode(view.log_mel))
    np.testing.assert_array_equal(
        view.episode.user_audio.reshape(view.n_ticks, layout.frames_per_tick, 80),
        layout.split_frames(view.codes))
    # Speech uses a wide range of dMel bins (silence sits in bin 0).
    self.assertGreaterEqual(len(np.unique(view.codes)), 10)
    table = stream_view.tick_table(view).splitlines()
    self.assertLen(table, view.n_ticks + 1)
    self.assertEqual([w for line in table[1:] for w in line.split()[4:]],
                     [w.text for w in view.speech.words])


class DemoTest(absltest.TestCase):

  def test_demo_trains_then_evaluates_ours_and_the_harness(self):
    # A subprocess: the launcher's flags, on one CPU device like `make demo`.
    workdir = self.create_tempdir().full_path
    result = subprocess.run(
        [sys.executable, "-m", "experiments.demo",
         "--config=experiments/configs/interaction.py:tiny", "--config.data.batch_size=1",
         f"--workdir={workdir}", "--steps=1", "--episodes_per_family=1", "--suite=timespeak"],
        cwd=_REPO, capture_output=True, text=True, timeout=600, check=False)
    self.assertEqual(result.returncode, 0, msg=result.stderr[-3000:])
    self.assertTrue(os.path.isdir(os.path.join(workdir, "checkpoints", "1")))
    with open(os.path.join(workdir, "eval", "report.json"), encoding="utf-8") as f:
      report = json.load(f)
    self.assertEqual(set(report["aggregates"]), set(demo.MODES))
    self.assertIn("timespeak", result.stdout)
    self.assertTrue(os.path.exists(os.path.join(workdir, "eval", "timeline_timespeak_0.png")))

  def test_bad_arguments_fail_before_training(self):
    workdir = self.create_tempdir().full_path
    with self.assertRaisesRegex(ValueError, "unknown suite 'dance'"):
      demo.run(interaction.get_config("tiny"), workdir, 1, suite="dance")
    with self.assertRaisesRegex(ValueError, "steps must be >= 1"):
      demo.run(interaction.get_config("tiny"), workdir, 0)
    self.assertEmpty(os.listdir(workdir))

  def test_show_cli(self):
    prefix = os.path.join(self.create_tempdir().full_path, "hi")
    result = subprocess.run([sys.executable, "-m", "data_pipelines.show", "--text=Hi there.",
                             f"--out={prefix}"],
                            cwd=_REPO, capture_output=True, text=True, timeout=120, check=False)
    self.assertEqual(result.returncode, 0, msg=result.stderr[-2000:])
    self.assertTrue(os.path.exists(prefix + ".png"))
    self.assertTrue(os.path.exists(prefix + "_griffin_lim.wav"))


if __name__ == "__main__":
  absltest.main()
