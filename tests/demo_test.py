"""The stream view, the `data_pipelines.show` CLI and the demo launcher, end to end."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import os
import subprocess
import sys

from absl.testing import absltest
import numpy as np
import soundfile

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

  def test_demo_writes_its_outputs(self):
    workdir = self.create_tempdir().full_path
    paths = demo.run(interaction.get_config("tiny"), workdir, "Stop in five seconds.")
    with open(paths["png"], "rb") as f:
      self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
    wave, rate = soundfile.read(paths["wav"])
    self.assertEqual(rate, 16000)
    self.assertGreater(np.abs(wave).max(), 0.1)
    episode = np.load(paths["episode"])
    layout = stream.TickLayout.from_config(interaction.get_config("tiny").stream)
    self.assertEqual(episode["tokens"].shape[1], layout.tick_len)
    self.assertEqual(len(wave), episode["tokens"].shape[0] * layout.samples_per_tick)

  def test_launcher_flags(self):
    workdir = self.create_tempdir().full_path
    result = subprocess.run(
        [sys.executable, "-m", "experiments.demo",
         "--config=experiments/configs/interaction.py:tiny", "--config.stream.text_out_tokens=7",
         f"--workdir={workdir}", "--text=Hi."],
        cwd=_REPO, capture_output=True, text=True, timeout=120, check=False)
    self.assertEqual(result.returncode, 0, msg=result.stderr[-2000:])
    self.assertIn("text_out   x7", result.stdout)
    self.assertTrue(os.path.exists(os.path.join(workdir, "stream.png")))

  def test_show_cli(self):
    prefix = os.path.join(self.create_tempdir().full_path, "hi")
    result = subprocess.run([sys.executable, "-m", "data_pipelines.show", "--text=Hi there.",
                             f"--out={prefix}"],
                            cwd=_REPO, capture_output=True, text=True, timeout=120, check=False)
    self.assertEqual(result.returncode, 0, msg=result.stderr[-2000:])
    self.assertTrue(os.path.exists(prefix + ".png"))
    self.assertTrue(os.path.exists(prefix + "_griffin_lim.wav"))

  def test_empty_prompt_is_a_clear_error(self):
    with self.assertRaisesRegex(ValueError, "text must contain something to speak"):
      demo.run(interaction.get_config("tiny"), self.create_tempdir().full_path, "   ")


if __name__ == "__main__":
  absltest.main()
