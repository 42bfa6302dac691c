"""Decoder: attention, dense and MoE blocks; impls agree; MoE routing and aux losses."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from interaction import config as config_lib
from interaction import decoder
from interaction import moe

D = 32


def _cfg(impl="xla", n_experts=0):
  return config_lib.ModelConfig(d_model=D, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=8,
                                d_ff=32, n_experts=n_experts, top_k=2, impl=impl)


def _build(cls, cfg):
  with nnx.use_eager_sharding(False):
    return cls(cfg, rngs=nnx.Rngs(0))


# One jitted forward for every test: models with equal configs share its compile.
_RUN = nnx.jit(lambda model, x: model(x))


def _x(b=2, t=20, seed=1):
  return jax.random.normal(jax.random.key(seed), (b, t, D), jnp.float32)


class DecoderTest(parameterized.TestCase):

  @parameterized.parameters(0, 4)
  def test_shapes_and_impls_agree(self, n_experts):
    x = _x()
    h_x, aux_x = _RUN(_build(decoder.Decoder, _cfg("xla", n_experts)), x)
    h_p, aux_p = _RUN(_build(decoder.Decoder, _cfg("pallas", n_experts)), x)
    self.assertEqual(h_p.shape, x.shape)
    self.assertEqual(h_p.dtype, jnp.float32)
    np.testing.assert_allclose(h_p, h_x, rtol=2e-5, atol=2e-5)
    self.assertEqual(set(aux_p), {"load_balance", "router_z"} if n_experts else set())
    for name in aux_p:
      self.assertTrue(np.isfinite(aux_p[name]))
      np.testing.assert_allclose(aux_p[name], aux_x[name], rtol=1e-5)

  def test_causal(self):
    model = _build(decoder.Decoder, _cfg())
    x = _x()
    later = x.at[:, 10:].set(0.0)
    np.testing.assert_allclose(_RUN(model, x)[0][:, :10], _RUN(model, later)[0][:, :10],
                               rtol=1e-6, atol=1e-6)

  def test_moe_routing_is_per_token_and_batch_invariant(self):
    layer = _build(moe.MoEFFN, _cfg("pallas", 4))
    x_nd = _x(1, 24)[0]
    run = nnx.jit(lambda layer, x: (layer.route(x)[:2], layer(x)[0]))
    (chosen, weights), y = run(layer, x_nd)
    for m in (1, 17):
      (chosen_m, weights_m), y_m = run(layer, x_nd[:m])
      np.testing.assert_array_equal(chosen_m, chosen[:m])
      np.testing.assert_array_equal(weights_m, weights[:m])
      np.testing.assert_array_equal(y_m, y[:m])
    self.assertGreater(len(np.unique(chosen)), 1)

  def test_aux_losses_minimal_at_uniform_routing(self):
    n, e = 8, 4
    uniform_probs = jnp.full((n, e), 1 / e)
    balanced = jnp.stack([jnp.arange(n) % e, (jnp.arange(n) + 1) % e], axis=1)
    self.assertAlmostEqual(float(moe.load_balance_loss(uniform_probs, balanced)), 1.0, places=6)
    skewed_probs = jnp.tile(jnp.array([0.7, 0.1, 0.1, 0.1]), (n, 1))
    collapsed = jnp.tile(jnp.array([0, 1]), (n, 1))
    self.assertGreater(float(moe.load_balance_loss(skewed_probs, collapsed)), 1.0)
    uniform_logits = jnp.full((n, e), -np.log(e))
    log_probs = jax.nn.log_softmax(uniform_logits)
    self.assertAlmostEqual(float(moe.router_z_loss(uniform_logits, log_probs)), 0.0, places=6)
    peaked = uniform_logits.at[:, 0].add(3.0)
    self.assertGreater(float(moe.router_z_loss(peaked, jax.nn.log_softmax(peaked))), 0.0)

  def test_parameters_carry_axis_names(self):
    model = _build(decoder.Decoder, _cfg(n_experts=4))
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
      self.assertLen(var.get_metadata()["out_sharding"], var[...].ndim, msg=str(path))


if __name__ == "__main__":
  absltest.main()
