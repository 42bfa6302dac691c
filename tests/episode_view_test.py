"""The episode timeline plot, the stereo WAV and per-tick channel text."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import os
import subprocess
import sys

from absl.testing import absltest
import numpy as np
import soundfile

from data_pipelines import episode
from data_pipelines import episode_view
from data_pipelines import scenes
from data_pipelines import speech_cache
from data_pipelines import stream
from data_pipelines.scenarios import common
from data_pipelines.stream import Slot

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYOUT = stream.TickLayout(frames_per_audio_token=2, video_height=40, video_width=40,
                           text_in_tokens=4, bg_in_tokens=4)


def _episode():
  scene = scenes.EventScene.sample(np.random.default_rng(0), duration_s=8.0)
  script = episode.EpisodeScript(
      family="view_test", n_ticks=40,
      lines=(episode.Line("user", "Say start when it moves.", 200, speech_cache.Voice("en-gb")),
             episode.Line("model", "Start.", 3000, common.ASSISTANT_VOICE)),
      typed=((2, "hey"),), background=((30, "7"),), scene=scene,
      truth={"marks": [{"label": "event", "start_ms": 2800.0, "end_ms": 5000.0},
                       {"label": "asked", "start_ms": 1500.0, "end_ms": None}]})
  cache = speech_cache.SpeechCache(os.path.join(absltest.get_default_test_tmpdir(), "speech"))
  return episode.render(script, LAYOUT, cache)


class EpisodeViewTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.ep = _episode()

  def test_channel_text(self):
    out = episode_view.channel_text(self.ep, Slot.TEXT_OUT)
    self.assertLen(out, 40)
    self.assertEqual(out[0], "<silence>")
    self.assertEqual("".join(c for c in out if c != "<silence>"), "Start.")
    self.assertEqual(episode_view.channel_text(self.ep, Slot.TEXT_IN)[2], "hey")
    self.assertEqual(episode_view.channel_text(self.ep, Slot.BG_IN)[30], "<bg_start>7<bg_end>")

  def test_plot_and_wav(self):
    directory = self.create_tempdir().full_path
    png, wav = os.path.join(directory, "ep.png"), os.path.join(directory, "ep.wav")
    episode_view.plot_episode(self.ep, png)
    with open(png, "rb") as f:
      self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
    episode_view.write_stereo_wav(self.ep, wav)
    stereo, rate = soundfile.read(wav)
    self.assertEqual(rate, 16000)
    self.assertEqual(stereo.shape, (len(self.ep.mic), 2))
    np.testing.assert_allclose(stereo[:, 0], self.ep.mic, atol=1 / 32767)
    np.testing.assert_allclose(stereo[:, 1], self.ep.model_audio, atol=1 / 32767)


class RenderCliTest(absltest.TestCase):

  def _run(self, *flags):
    return subprocess.run([sys.executable, "-m", "data_pipelines.render", *flags],
                          cwd=_REPO, capture_output=True, text=True, timeout=300, check=False)

  def test_renders_a_family_episode(self):
    out = self.create_tempdir().full_path
    result = self._run("--family=delegation", "--index=2", "--split=heldout", f"--out={out}")
    self.assertEqual(result.returncode, 0, msg=result.stderr[-2000:])
    self.assertTrue(os.path.exists(os.path.join(out, "delegation_heldout_2.png")))
    stereo, rate = soundfile.read(os.path.join(out, "delegation_heldout_2_stereo.wav"))
    self.assertEqual((rate, stereo.shape[1]), (16000, 2))
    self.assertIn('"delegations"', result.stdout)

  def test_unknown_family_is_a_clear_error(self):
    result = self._run("--family=nope", f"--out={self.create_tempdir().full_path}")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("unknown scenario family 'nope'", result.stderr)


if __name__ == "__main__":
  absltest.main()
