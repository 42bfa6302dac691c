"""Input embeddings: dMel audio, hMLP stem, and the whole-episode embedder."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from data_pipelines import audio as audio_lib
from data_pipelines.stream import TickLayout
from interaction import config as config_lib
from interaction import embed
from interaction import toy_data

LAYOUT = TickLayout(frames_per_audio_token=2, video_height=40, video_width=40,
                    text_in_tokens=4, bg_in_tokens=4, text_out_tokens=6)
N_TICKS = 3
# Jitted embedding of a batch, shared by the tests that need no concrete-value checks.
_EMBED = nnx.jit(lambda model, batch: model(batch))


def _embedder(impl="xla"):
  cfg = config_lib.ModelConfig(d_model=32, hmlp_dims=(16, 32), impl=impl)
  with nnx.use_eager_sharding(False):
    return embed.EpisodeEmbedder(LAYOUT, cfg, rngs=nnx.Rngs(0))


class EmbedTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.batch = toy_data.toy_batch(LAYOUT, N_TICKS, 2)
    cls.model = _embedder()

  def test_dmel_on_real_codes(self):
    codes = self.batch["user_audio"]  # dMel of a real tone via data_pipelines.audio.
    self.assertGreater(len(np.unique(codes)), 2)
    out = self.model.audio(codes)
    self.assertEqual(out.shape, (2, N_TICKS * LAYOUT.n_audio_tokens, 32))
    self.assertEqual(out.dtype, jnp.float32)
    # A different code in one channel changes the token.
    changed = codes.copy()
    changed[0, 0, 0, 0] = (changed[0, 0, 0, 0] + 1) % audio_lib.DMEL_BINS
    self.assertFalse(np.allclose(self.model.audio(changed)[0, 0], out[0, 0]))

  def test_hmlp_on_patches(self):
    out = self.model.video(self.batch["video"])
    self.assertEqual(out.shape, (2, N_TICKS, 32))
    self.assertTrue(np.all(np.isfinite(out)))
    self.assertFalse(np.allclose(out[0, 0], out[0, 1]))  # different frames, different tokens.

  @parameterized.parameters("xla", "pallas")
  def test_episode_shape_and_impls_agree(self, impl):
    x = _EMBED(_embedder(impl), self.batch)
    self.assertEqual(x.shape, (2, N_TICKS * LAYOUT.tick_len, 32))
    self.assertEqual(x.dtype, jnp.float32)
    np.testing.assert_allclose(x, _EMBED(self.model, self.batch), rtol=1e-5, atol=1e-5)

  def test_audio_out_slots_do_not_see_their_target(self):
    changed = dict(self.batch, audio_out=self.batch["audio_out"] + 1.0)
    np.testing.assert_array_equal(_EMBED(self.model, changed), _EMBED(self.model, self.batch))

  def test_absent_audio_is_zero_content(self):
    x = _EMBED(self.model, self.batch)
    kinds = LAYOUT.episode_slot_kinds(N_TICKS)
    self_audio = np.flatnonzero(kinds == 2)
    absent = self_audio[~self.batch["present"][0, self_audio]]
    self.assertNotEmpty(absent)
    # Absent slots of the same tick hold only slot-type + tick embeddings: all equal.
    first_tick = absent[absent < LAYOUT.tick_len]
    np.testing.assert_array_equal(x[0, first_tick], np.broadcast_to(x[0, first_tick[0]],
                                                                     x[0, first_tick].shape))

  def test_parameters_carry_axis_names(self):
    for path, var in nnx.to_flat_state(nnx.state(self.model, nnx.Param)):
      self.assertLen(var.get_metadata()["out_sharding"], var[...].ndim, msg=str(path))

  def test_bad_inputs(self):
    b = self.batch
    with self.assertRaisesRegex(ValueError, "not a multiple of tick_len"):
      self.model(dict(b, tokens=b["tokens"][:, :-1], present=b["present"][:, :-1]))
    with self.assertRaisesRegex(ValueError, r"user_audio must have shape"):
      self.model(dict(b, user_audio=b["user_audio"][:, :, :1]))
    with self.assertRaisesRegex(ValueError, r"video must have shape"):
      self.model(dict(b, video=b["video"][:, :, :20]))
    bad_codes = b["self_audio"].copy()
    bad_codes[0, 0, 0, 0] = audio_lib.DMEL_BINS
    with self.assertRaisesRegex(ValueError, r"dMel codes must lie in \[0, 16\)"):
      self.model(dict(b, self_audio=bad_codes))
    with self.assertRaisesRegex(ValueError, r"tokens must lie in \[0, 384\)"):
      self.model(dict(b, tokens=b["tokens"] + 1000))


if __name__ == "__main__":
  absltest.main()
