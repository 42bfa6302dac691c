"""interaction.session_timeline (behind the run_session CLI): a spoken prompt in a live session."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import os
import tempfile

from absl import app
from absl.testing import absltest
import numpy as np

from data_pipelines import audio
from experiments.configs import interaction as interaction_config
from interaction import session_timeline
from interaction import sampler as sampler_lib


class RunSessionTest(absltest.TestCase):

  def test_streams_prompt_and_writes_timeline_and_wav(self):
    config = interaction_config.get_config("tiny")
    config.model.max_ticks = 64
    _, model = session_timeline.load_model(None, config)
    out = os.path.join(tempfile.mkdtemp(), "s")
    record = session_timeline.stream_prompt(model, "Hi.", listen_s=0.4,
                                            sampler=sampler_lib.SamplerConfig(), flow_steps=2,
                                            speech_options=dict(config.speech), out=out)
    self.assertGreater(record.n_ticks, 2)
    heard = record.example["user_audio"]
    self.assertGreater(heard.max(), 0)  # The prompt reached the model as dMel codes.
    self.assertTrue(os.path.getsize(f"{out}_timeline.png") > 1000)
    self.assertTrue(os.path.getsize(f"{out}_model.wav") > 1000)
    track = session_timeline.model_track(record)
    self.assertEqual(track.shape, (record.n_ticks * model.layout.frames_per_tick, 80))
    np.testing.assert_array_equal(track[:model.layout.frames_per_tick], audio.DMEL_MIN)

  def test_needs_a_checkpoint_or_a_config(self):
    with self.assertRaisesRegex(app.UsageError, "--checkpoint"):
      session_timeline.load_model(None, None)


if __name__ == "__main__":
  absltest.main()
