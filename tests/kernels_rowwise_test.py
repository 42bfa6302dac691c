"""Row-wise suite (RMSNorm, log-softmax, softmax, SiLU, GELU) against both impls."""

from tests import testing  # isort: skip  (must configure JAX first)

import math

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

import pallas_kernels as pk
from pallas_kernels import test_base

ROWS = pk.DEFAULT_BLOCKS.rows
BATCH_SIZES = (1, 3, ROWS - 1, ROWS, ROWS + 1, 50)
EPS = 1e-6


def _scale(n):
  return 1.0 + 0.1 * jnp.arange(n, dtype=jnp.float32) / n


def _oracle(op, x):
  """Float64 NumPy ground truth."""
  x = np.asarray(x, np.float64)
  if op == "rms_norm":
    scale = np.asarray(_scale(x.shape[-1]), np.float64)
    return x / np.sqrt(np.mean(x * x, -1, keepdims=True) + EPS) * scale
  if op in ("log_softmax", "softmax"):
    shifted = x - x.max(-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return log_p if op == "log_softmax" else np.exp(log_p)
  if op == "silu":
    return x / (1 + np.exp(-x))
  c = math.sqrt(2 / math.pi)
  return 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x**3)))


OPS = ("rms_norm", "log_softmax", "softmax", "silu", "gelu")
# Measured on XLA:CPU with [m, 384] float32 inputs: the softmaxes give other
# bits for m in {1, 2, 3, 5, 7}; RMSNorm, SiLU and GELU did not change. With
# bfloat16 inputs and outputs no op changed for these inputs (rounding to
# bfloat16 hid the float32 differences).
XLA_CPU_INVARIANT = {("rms_norm", jnp.float32): True, ("log_softmax", jnp.float32): False,
                     ("softmax", jnp.float32): False, ("silu", jnp.float32): True,
                     ("gelu", jnp.float32): True}
XLA_CPU_INVARIANT.update({(op, jnp.bfloat16): True for op in OPS})


class RowwiseSuite(test_base.KernelTestBase):

  def apply(self, op, x):
    if op == "rms_norm":
      f = lambda x: pk.rms_norm(x, _scale(x.shape[-1]), eps=EPS, impl=self.IMPL)
    else:
      f = lambda x: getattr(pk, op)(x, impl=self.IMPL)
    return jax.jit(f)(x)

  @parameterized.product(op=OPS, dtype=(jnp.float32, jnp.bfloat16), width=(37, 384))
  def test_matches_oracle(self, op, dtype, width):
    x = test_base.random(0, (3, 11, width), dtype, scale=3.0)
    y = self.apply(op, x)
    self.assertEqual((y.shape, y.dtype), (x.shape, x.dtype))
    reduced = op in ("rms_norm", "log_softmax", "softmax")
    test_base.assert_close(y, _oracle(op, x), dtype, width if reduced else 1)

  @parameterized.parameters(jnp.float32, jnp.bfloat16)
  def test_router_softmax_over_8_experts(self, dtype):
    x = test_base.random(0, (40, 8), dtype, scale=3.0)
    test_base.assert_close(self.apply("softmax", x), _oracle("softmax", x), dtype, 8)

  @parameterized.product(op=OPS, dtype=(jnp.float32, jnp.bfloat16))
  def test_batch_invariance(self, op, dtype):
    x = test_base.random(1, (50, 384), dtype, scale=3.0)
    self.assert_batch_invariance(lambda x: self.apply(op, x), x, BATCH_SIZES,
                                 xla_cpu_invariant=XLA_CPU_INVARIANT[op, dtype])

  @parameterized.product(op=OPS, width=(37, 384))
  def test_identical_rows(self, op, width):
    row = test_base.random(2, (width,), jnp.float32, scale=3.0)
    self.assert_identical_rows(lambda x: self.apply(op, x), row, 2 * ROWS + 3)

  @parameterized.parameters(*OPS)
  def test_gradients_match_reference(self, op):
    x = test_base.random(3, (5, 37), jnp.float32, scale=2.0)
    impl_of = lambda impl: (lambda x: jnp.sum(jnp.cos(self.apply_impl(op, x, impl))))
    got = jax.jit(jax.grad(impl_of(self.IMPL)))(x)
    want = jax.grad(impl_of("xla"))(x)
    test_base.assert_close(got, want, jnp.float32, 37)

  def apply_impl(self, op, x, impl):
    if op == "rms_norm":
      return pk.rms_norm(x, _scale(x.shape[-1] if x.ndim else 1), eps=EPS, impl=impl)
    return getattr(pk, op)(x, impl=impl)

  @parameterized.parameters(*OPS)
  def test_bad_input(self, op):
    with self.assertRaisesRegex(ValueError, "float32 or bfloat16"):
      self.apply_impl(op, jnp.zeros((4, 8), jnp.int32), self.IMPL)
    with self.assertRaisesRegex(ValueError, "rank >= 1"):
      self.apply_impl(op, jnp.zeros(()), self.IMPL)

  def test_rms_norm_scale_shape(self):
    with self.assertRaisesRegex(ValueError, r"scale must have shape \[8\]"):
      pk.rms_norm(jnp.zeros((4, 8)), jnp.ones((9,)), impl=self.IMPL)
    with self.assertRaisesRegex(ValueError, "scale must have rank 1"):
      pk.rms_norm(jnp.zeros((4, 8)), jnp.ones((1, 8)), impl=self.IMPL)


class RowwisePallasTest(RowwiseSuite):
  IMPL = "pallas"


class RowwiseXlaTest(RowwiseSuite):
  IMPL = "xla"


del RowwiseSuite  # run only through the per-impl subclasses


class RopeTest(parameterized.TestCase):
  """RoPE has one implementation: a table gather plus multiplies and adds."""

  def test_matches_angles(self):
    table = pk.rope_table(64, 8)
    x = test_base.random(0, (1, 64, 1, 8), jnp.float32)
    pos = jnp.arange(64)[None]
    y = np.asarray(pk.apply_rope(x, pos, table))
    ang = np.arange(64)[:, None] * 10000.0 ** (-np.arange(0, 8, 2) / 8)
    x1, x2 = np.asarray(x[0, :, 0, :4], np.float64), np.asarray(x[0, :, 0, 4:], np.float64)
    want = np.concatenate([x1 * np.cos(ang) - x2 * np.sin(ang),
                           x2 * np.cos(ang) + x1 * np.sin(ang)], -1)
    test_base.assert_close(y[0, :, 0], want, jnp.float32, 2)

  @parameterized.parameters(1, 5, 16)
  def test_chunk_and_batch_invariance(self, chunk):
    table = pk.rope_table(128, 16)
    x = test_base.random(1, (3, 40, 2, 16), jnp.float32)
    pos = jnp.broadcast_to(jnp.arange(40), (3, 40))
    f = jax.jit(pk.apply_rope)
    full = np.asarray(f(x, pos, table))
    parts = [np.asarray(f(x[:1, s:s + chunk], pos[:1, s:s + chunk], table))
             for s in range(0, 40, chunk)]
    np.testing.assert_array_equal(np.concatenate(parts, 1), full[:1])

  def test_bad_input(self):
    with self.assertRaisesRegex(ValueError, "head_dim must be even"):
      pk.rope_table(8, 7)
    with self.assertRaisesRegex(ValueError, r"positions must have shape \[1, 4\]"):
      pk.apply_rope(jnp.zeros((1, 4, 2, 8)), jnp.zeros((4,), jnp.int32), pk.rope_table(8, 8))


if __name__ == "__main__":
  absltest.main()
