"""Text-loss weights: onsets and content slots on hand-made ticks; the model's weighted loss;
the heldout eval's onset recall."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import dataclasses

from absl.testing import absltest
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from data_pipelines import text
from data_pipelines.stream import Slot
from data_pipelines.stream import TickLayout
from interaction import config as config_lib
from interaction import model as model_lib
from interaction import text_loss
from interaction import toy_data
from interaction.training import evaluation

S, P, D = text.SILENCE, text.PAD, text.DELEGATE
A, B = ord("a"), ord("b")
# One row of 6 ticks × 3 slots: speaks from tick 0, silent, speaks for two ticks
# (the second a continuation with only padding), silent, delegates.
TARGETS_BTN = np.array([[[A, B, P], [S, P, P], [A, P, P], [P, P, P], [S, P, P], [D, P, P]]],
                       np.int32)


class WeightsTest(absltest.TestCase):

  def test_onset_ticks(self):
    np.testing.assert_array_equal(text_loss.onset_ticks(jnp.asarray(TARGETS_BTN)),
                                  [[True, False, True, False, False, True]])

  def test_weights(self):
    w = np.asarray(text_loss.text_loss_weights(jnp.asarray(TARGETS_BTN), 7.0, 3.0))
    expected = np.array([[[7, 3, 1], [1, 1, 1], [7, 1, 1], [3, 1, 1], [1, 1, 1], [7, 1, 1]]],
                        np.float32)
    np.testing.assert_array_equal(w, expected)
    self.assertEqual(w.dtype, np.float32)

  def test_unit_weights_are_ones(self):
    w = text_loss.text_loss_weights(jnp.asarray(TARGETS_BTN), 1.0, 1.0)
    np.testing.assert_array_equal(w, np.ones(TARGETS_BTN.shape, np.float32))


LAYOUT = TickLayout(frames_per_audio_token=2, video_height=40, video_width=40,
                    text_in_tokens=2, bg_in_tokens=2, text_out_tokens=3)


class ModelLossTest(absltest.TestCase):
  """The model's "total" uses the weighted text loss; "text" stays the plain mean CE."""

  def test_weighted_text_loss(self):
    base = config_lib.ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, head_dim=16,
                                  d_ff=32, hmlp_dims=(8, 16), flow_dim=32, flow_layers=1)
    weighted = dataclasses.replace(base, onset_loss_weight=5.0, content_loss_weight=2.0)
    batch = {k: jnp.asarray(v) for k, v in toy_data.toy_batch(LAYOUT, 6, 2).items()}
    key = jax.random.key(0)
    with nnx.use_eager_sharding(False):
      plain = model_lib.InteractionModel(LAYOUT, base, rngs=nnx.Rngs(0))
      model = model_lib.InteractionModel(LAYOUT, weighted, rngs=nnx.Rngs(0))
    plain_losses, logp_bl = plain(batch, key)
    losses, _ = model(batch, key)
    self.assertEqual(float(losses["text"]), float(plain_losses["text"]))
    self.assertEqual(float(plain_losses["text_weighted"]), float(plain_losses["text"]))

    # Recompute the weighted mean from the returned per-slot log-probs.
    n_ticks = LAYOUT.n_ticks(batch["tokens"].shape[1])
    pos = model_lib.slot_positions(LAYOUT, n_ticks, Slot.TEXT_OUT)
    targets_btn = batch["text_targets"][:, pos].reshape(2, n_ticks, -1)
    w_bn = text_loss.text_loss_weights(targets_btn, 5.0, 2.0).reshape(2, -1)
    mask_bn = batch["text_loss_mask"][:, pos].astype(jnp.float32)
    expected = -jnp.sum(logp_bl[:, pos] * w_bn * mask_bn) / jnp.sum(mask_bn)
    np.testing.assert_allclose(float(losses["text_weighted"]), float(expected), rtol=1e-6)
    self.assertGreater(float(losses["text_weighted"]), float(losses["text"]))
    np.testing.assert_allclose(
        float(losses["total"] - plain_losses["total"]),
        float(losses["text_weighted"] - plain_losses["text_weighted"]), rtol=1e-5)

  def test_eval_counts_onsets(self):
    cfg = config_lib.ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, head_dim=16,
                                 d_ff=32, hmlp_dims=(8, 16), flow_dim=32, flow_layers=1)
    with nnx.use_eager_sharding(False):
      model = model_lib.InteractionModel(LAYOUT, cfg, rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    batch = {k: jnp.asarray(v) for k, v in toy_data.toy_batch(LAYOUT, 6, 2).items()}
    sums = evaluation.make_eval_step(graphdef)(nnx.to_pure_dict(state), batch, jax.random.key(0))
    self.assertEqual(float(sums["onsets"]), 2.0)  # Toy rows start speaking once, at tick 3.
    pos = evaluation.decision_positions(LAYOUT, 6)[3]
    h_bld, _ = model.hidden(batch)
    starts = jnp.argmax(model.text_head(h_bld[:, pos - 1]), axis=-1) != text.SILENCE
    self.assertEqual(float(sums["onset_hit"]), float(jnp.sum(starts)))
    summary = evaluation.summarize([sums])
    self.assertEqual(summary["onset_recall"], float(jnp.sum(starts)) / 2)

  def test_bad_weight(self):
    with self.assertRaisesRegex(ValueError, "onset_loss_weight"):
      config_lib.ModelConfig(onset_loss_weight=-1.0)


if __name__ == "__main__":
  absltest.main()
