"""Matmul suite, run against impl="pallas" (batch invariant) and impl="xla"."""

from tests import testing  # isort: skip  (must configure JAX first)

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

import pallas_kernels as pk
from pallas_kernels import test_base

K, N = 96, 80  # neither a multiple of the 128 tiles: exercises K and N padding
TILE_M = pk.DEFAULT_BLOCKS.matmul_m
BATCH_SIZES = (1, 7, TILE_M - 1, TILE_M, TILE_M + 1, 300)


class MatmulSuite(test_base.KernelTestBase):

  def matmul(self, x, w):
    return jax.jit(lambda x, w: pk.matmul(x, w, impl=self.IMPL))(x, w)

  @parameterized.parameters(jnp.float32, jnp.bfloat16)
  def test_matches_reference(self, dtype):
    x = test_base.random(0, (2, 45, K), dtype)
    w = test_base.random(1, (K, N), dtype)
    y = self.matmul(x, w)
    self.assertEqual(y.shape, (2, 45, N))
    self.assertEqual(y.dtype, dtype)
    expected = np.asarray(x, np.float64).reshape(-1, K) @ np.asarray(w, np.float64)
    test_base.assert_close(y.reshape(-1, N), expected, dtype, K)

  @parameterized.parameters(jnp.float32, jnp.bfloat16)
  def test_batch_invariance(self, dtype):
    x = test_base.random(2, (300, K), dtype)
    w = test_base.random(3, (K, N), dtype)
    # Measured on XLA:CPU: the float32 dot gives rows 0..m-1 other bits for
    # m = 1 and 7 (and more); the bfloat16 dot was invariant for every m here.
    self.assert_batch_invariance(lambda x: self.matmul(x, w), x, BATCH_SIZES,
                                 xla_cpu_invariant=dtype == jnp.bfloat16)

  def test_identical_rows(self):
    x = test_base.random(4, (K,), jnp.float32)
    w = test_base.random(5, (K, N), jnp.float32)
    self.assert_identical_rows(lambda x: self.matmul(x, w), x, TILE_M + 9)

  def test_gradients_match_reference(self):
    x = test_base.random(6, (9, K), jnp.float32)
    w = test_base.random(7, (K, N), jnp.float32)
    loss = lambda impl: (lambda x, w: jnp.sum(jnp.sin(pk.matmul(x, w, impl=impl))))
    got = jax.jit(jax.grad(loss(self.IMPL), argnums=(0, 1)))(x, w)
    want = jax.grad(loss("xla"), argnums=(0, 1))(x, w)
    test_base.assert_close(got[0], want[0], jnp.float32, N)
    test_base.assert_close(got[1], want[1], jnp.float32, 9)

  @parameterized.named_parameters(
      ("x_rank0", (), (K, N), jnp.float32, "rank >= 1"),
      ("w_rank3", (4, K), (1, K, N), jnp.float32, "w must have rank 2"),
      ("k_mismatch", (4, K), (K + 1, N), jnp.float32, "K=96"),
      ("int_dtype", (4, K), (K, N), jnp.int32, "float32 or bfloat16"),
  )
  def test_bad_input(self, x_shape, w_shape, dtype, message):
    x, w = jnp.zeros(x_shape, dtype), jnp.zeros(w_shape, dtype)
    with self.assertRaisesRegex(ValueError, message):
      pk.matmul(x, w, impl=self.IMPL)

  def test_mixed_dtypes_rejected(self):
    with self.assertRaisesRegex(ValueError, "share one dtype"):
      pk.matmul(jnp.zeros((4, K)), jnp.zeros((K, N), jnp.bfloat16), impl=self.IMPL)


class MatmulPallasTest(MatmulSuite):
  IMPL = "pallas"


class MatmulXlaTest(MatmulSuite):
  IMPL = "xla"


del MatmulSuite  # run only through the per-impl subclasses


class MatmulApiTest(absltest.TestCase):

  def test_unknown_impl(self):
    with self.assertRaisesRegex(ValueError, "impl must be one of"):
      pk.matmul(jnp.zeros((4, K)), jnp.zeros((K, N)), impl="triton")

  def test_unknown_backend(self):
    with self.assertRaisesRegex(ValueError, "backend must be one of"):
      pk.matmul(jnp.zeros((4, K)), jnp.zeros((K, N)), impl="pallas", backend="cuda")

  def test_block_sizes_must_be_powers_of_two(self):
    with self.assertRaisesRegex(ValueError, "matmul_m must be a power of two"):
      pk.BlockSizes(matmul_m=96)


if __name__ == "__main__":
  absltest.main()
