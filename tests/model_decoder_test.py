"""Decoder: attention, dense and MoE blocks; impls agree; MoE routing and aux losses."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

import pallas_kernels as pk
from interaction import config as config_lib
from interaction import decoder
from interaction import moe

D = 32


def _cfg(impl="xla", n_experts=0, block_rows=pk.DEFAULT_BLOCKS.matmul_m):
  return config_lib.ModelConfig(d_model=D, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=8,
                                d_ff=32, n_experts=n_experts, top_k=2, impl=impl,
                                blocks=pk.BlockSizes(matmul_m=block_rows))


def _build(cls, cfg):
  with nnx.use_eager_sharding(False):
    return cls(cfg, rngs=nnx.Rngs(0))


# One jitted forward for every test: models with equal configs share its compile.
_RUN = nnx.jit(lambda model, x: model(x))


def _x(b=2, t=20, seed=1):
  return jax.random.normal(jax.random.key(seed), (b, t, D), jnp.float32)


def _every_expert_reference(layer, x_nd):
  """The MoE without dispatch: every expert on every token, unchosen ones weighted 0."""
  chosen_nk, weights_nk, _ = layer.route(x_nd)
  gate_ne = jnp.sum(jax.nn.one_hot(chosen_nk, layer.cfg.n_experts, dtype=x_nd.dtype)
                    * weights_nk[..., None], axis=1)
  kargs = layer.cfg.kernel_args
  y_nd = jnp.zeros_like(x_nd)
  for e in range(layer.cfg.n_experts):
    h_nf = pk.silu(pk.matmul(x_nd, layer.up[e], **kargs), **kargs)
    y_nd = y_nd + jax.lax.optimization_barrier(
        gate_ne[:, e:e + 1] * pk.matmul(h_nf, layer.down[e], **kargs))
  return y_nd


# Shared jitted MoE functions: layers with equal configs and inputs share a compile.
_ROUTE_AND_APPLY = nnx.jit(lambda layer, x: (layer.route(x)[:2], layer(x)[0]))
_REFERENCE = nnx.jit(_every_expert_reference)
N_TOKENS = 40  # ~20 rows per expert: groups span several 16-row blocks.


def _routings(n):
  """[N, 2] ascending expert pairs over 4 experts: skewed, bound-tight and random."""
  skewed = np.stack([np.zeros(n, int), 2 + np.arange(n) % 2], 1)  # expert 1 gets nothing.
  # n = 37: per-expert counts 17, 17, 17, 23, each one past a multiple of 16.
  tight = np.array([(0, 3)] * 17 + [(1, 2)] * 14 + [(1, 3)] * 3 + [(2, 3)] * 3)
  rng = np.random.default_rng(0)
  random = [np.sort(np.stack([rng.choice(4, 2, replace=False) for _ in range(n)]), 1)
            for _ in range(3)]
  return [skewed, tight] + random


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

  @parameterized.parameters(128, 16)
  def test_moe_routing_is_per_token_and_batch_invariant(self, block_rows):
    layer = _build(moe.MoEFFN, _cfg("pallas", 4, block_rows))
    x_nd = _x(1, N_TOKENS)[0]
    (chosen, weights), y = _ROUTE_AND_APPLY(layer, x_nd)
    for m in (1, 17):
      (chosen_m, weights_m), y_m = _ROUTE_AND_APPLY(layer, x_nd[:m])
      np.testing.assert_array_equal(chosen_m, chosen[:m])
      np.testing.assert_array_equal(weights_m, weights[:m])
      np.testing.assert_array_equal(y_m, y[:m])
    self.assertGreater(len(np.unique(chosen)), 1)

  def test_dispatch_layout(self):
    n, n_experts, block_rows = 37, 4, 16
    layout = jax.jit(moe.dispatch, static_argnums=(1, 2))
    for i, chosen in enumerate(_routings(n)):
      plan = layout(jnp.asarray(chosen, jnp.int32), n_experts, block_rows)
      rows, blocks = np.asarray(plan.row_nk), np.asarray(plan.block_expert_b)
      self.assertLen(blocks, moe.buffer_blocks(chosen.size, n_experts, block_rows))
      self.assertLess(rows.max(), len(blocks) * block_rows, msg=i)
      self.assertLen(np.unique(rows), rows.size, msg=i)  # one row per assignment.
      np.testing.assert_array_equal(blocks[rows // block_rows], chosen, err_msg=str(i))
      self.assertTrue(np.all(np.diff(blocks) >= 0), msg=i)
      for e in range(n_experts):  # token order inside each group.
        self.assertTrue(np.all(np.diff(rows[chosen == e]) > 0), msg=(i, e))
      if i == 1:  # the bound is reached: the tight routing fills the last block.
        self.assertEqual(rows.max() // block_rows, len(blocks) - 1)

  # (xla, 128) follows: pallas equals the reference, test_shapes_and_impls_agree xla ≈ pallas.
  @parameterized.parameters(("xla", 16), ("pallas", 16), ("pallas", 128))
  def test_grouped_dispatch_equals_every_expert_reference(self, impl, block_rows):
    layer = _build(moe.MoEFFN, _cfg(impl, 4, block_rows))
    x_nd = _x(1, N_TOKENS)[0]
    y, reference = _ROUTE_AND_APPLY(layer, x_nd)[1], _REFERENCE(layer, x_nd)
    if impl == "pallas":  # row-invariant kernels: the same bits wherever a row sits.
      np.testing.assert_array_equal(y, reference)
    else:
      np.testing.assert_allclose(y, reference, rtol=1e-5, atol=1e-6)

  def test_grouped_dispatch_gradients_match_every_expert_reference(self):
    layer = _build(moe.MoEFFN, _cfg("xla", 4, 16))
    x_nd = _x(1, N_TOKENS)[0]
    grads = nnx.jit(lambda layer, x, f: nnx.grad(lambda l, x: jnp.sum(f(l, x) ** 2),
                                                  argnums=(0, 1))(layer, x), static_argnums=2)
    (layer_g, x_g) = grads(layer, x_nd, lambda l, x: l(x)[0])
    (layer_r, x_r) = grads(layer, x_nd, _every_expert_reference)
    np.testing.assert_allclose(x_g, x_r, rtol=1e-5, atol=1e-5)
    for (path, g), (_, r) in zip(nnx.to_flat_state(nnx.state(layer_g, nnx.Param)),
                                 nnx.to_flat_state(nnx.state(layer_r, nnx.Param))):
      np.testing.assert_allclose(g[...], r[...], rtol=1e-5, atol=1e-5, err_msg=str(path))

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

  def test_bf16_routing_runs_in_float32(self):
    layer = _build(moe.MoEFFN, _cfg("xla", 4))
    nnx.update(layer, jax.tree.map(lambda p: p.astype(jnp.bfloat16), nnx.state(layer)))
    x_nd = _x(1, N_TOKENS)[0].astype(jnp.bfloat16)
    chosen_nk, weights_nk, aux = layer.route(x_nd)
    # The expected weights: float32 softmax of the (bf16) router logits, top-2, renormalized.
    probs_ne = jax.nn.softmax(layer.router(x_nd).astype(jnp.float32), axis=-1)
    expected_nk = jnp.take_along_axis(probs_ne, chosen_nk, axis=-1)
    expected_nk /= jnp.sum(expected_nk, axis=-1, keepdims=True)
    self.assertEqual(weights_nk.dtype, jnp.float32)
    np.testing.assert_allclose(weights_nk, expected_nk, rtol=1e-6, atol=1e-6)
    self.assertEqual(aux["router_z"].dtype, jnp.float32)
    y, _ = layer(x_nd)
    self.assertEqual(y.dtype, jnp.bfloat16)

  def test_parameters_carry_axis_names(self):
    model = _build(decoder.Decoder, _cfg(n_experts=4))
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
      self.assertLen(var.get_metadata()["out_sharding"], var[...].ndim, msg=str(path))


if __name__ == "__main__":
  absltest.main()
