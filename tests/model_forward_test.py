"""Training forward: named losses, text log-probs, impls agree, overfitting one episode."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import functools

from absl.testing import absltest
from absl.testing import parameterized
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from data_pipelines.stream import Slot
from data_pipelines.stream import TickLayout
from interaction import config as config_lib
from interaction import model as model_lib
from interaction import toy_data

LAYOUT = TickLayout(frames_per_audio_token=2, video_height=40, video_width=40,
                    text_in_tokens=2, bg_in_tokens=2, text_out_tokens=3)
N_TICKS = 2


def _model(impl="xla", n_experts=0):
  cfg = config_lib.ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, head_dim=16,
                               d_ff=32, n_experts=n_experts, top_k=1, hmlp_dims=(8, 16),
                               flow_dim=32, flow_layers=1, impl=impl)
  with nnx.use_eager_sharding(False):
    return model_lib.InteractionModel(LAYOUT, cfg, rngs=nnx.Rngs(0))


def _forward(model, batch, key):
  return model(batch, key)


class ForwardTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.batch = toy_data.toy_batch(LAYOUT, N_TICKS, 2)

  def test_slot_positions_predict_text_out(self):
    pos = model_lib.slot_positions(LAYOUT, N_TICKS, Slot.TEXT_OUT)
    self.assertEqual([LAYOUT.locate(p)[1] for p in pos], [Slot.TEXT_OUT] * len(pos))
    self.assertEqual(LAYOUT.locate(pos[0] - 1)[1], Slot.BG_IN)

  @parameterized.parameters(0, 2)
  def test_losses_logprobs_and_impls_agree(self, n_experts):
    key = jax.random.key(0)
    run = nnx.jit(_forward)
    losses_x, logp_x = run(_model("xla", n_experts), self.batch, key)
    losses_p, logp_p = run(_model("pallas", n_experts), self.batch, key)
    expected = {"text", "text_weighted", "flow", "total"} | ({"load_balance", "router_z"} if n_experts else set())
    self.assertEqual(set(losses_p), expected)
    self.assertEqual(logp_p.shape, self.batch["tokens"].shape)
    mask = self.batch["text_loss_mask"]
    self.assertTrue(np.all(np.asarray(logp_p)[mask] < 0))
    self.assertTrue(np.all(np.asarray(logp_p)[~mask] == 0))
    np.testing.assert_allclose(-logp_p[mask].mean(), losses_p["text"], rtol=1e-5)
    np.testing.assert_allclose(logp_p, logp_x, rtol=1e-4, atol=1e-5)
    for name in expected:
      np.testing.assert_allclose(losses_p[name], losses_x[name], rtol=1e-4, err_msg=name)

  @parameterized.parameters(("xla", 0), ("xla", 2), ("pallas", 0), ("pallas", 2))
  def test_overfits_one_episode(self, impl, n_experts):
    model = _model(impl, n_experts)
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    batch = {k: v[:1] for k, v in self.batch.items()}
    graphdef, state = nnx.split((model, optimizer))

    # This test checks learning, not bits: LLVM -O0 compiles the step ~40% faster.
    @functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0})
    def step(state, key):
      model, optimizer = nnx.merge(graphdef, state)
      (_, losses), grads = nnx.value_and_grad(
          lambda m: (lambda l: (l["total"], l))(m(batch, key)[0]), has_aux=True)(model)
      optimizer.update(model, grads)
      return nnx.state((model, optimizer)), losses

    history = []
    for _ in range(25):
      state, losses = step(state, jax.random.key(0))
      history.append(losses)
    for name in ("text", "flow"):
      first, last = float(history[0][name]), float(history[-1][name])
      self.assertLess(last, 0.5 * first, msg=f"{name}: {first} -> {last}")

  def test_bad_inputs(self):
    model = _model()
    b, key = self.batch, jax.random.key(0)
    with self.assertRaisesRegex(ValueError, "not a multiple of tick_len"):
      model({k: v[:, :-1] for k, v in b.items()}, key)
    with self.assertRaisesRegex(ValueError, "audio_out must have shape"):
      model(dict(b, audio_out=b["audio_out"][:, :-1]), key)
    with self.assertRaisesRegex(ValueError, "text_targets must have shape"):
      model(dict(b, text_targets=b["text_targets"][:1]), key)


if __name__ == "__main__":
  absltest.main()
