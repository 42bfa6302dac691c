"""Attention suite: correctness, batch and cache invariance, against both impls."""

from tests import testing  # isort: skip  (must configure JAX first)

import functools
import math

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

import pallas_kernels as pk
from pallas_kernels import test_base

# Small splits and tiles so that 40 tokens span several of each.
BLOCKS = pk.BlockSizes(attention_q=16, attention_kv=16)
B, T, HQ, HKV, D = 2, 40, 4, 2, 16
CAPACITY = 48  # KV buffer of the chunked runs: larger than T, garbage past kv_len


def _sequence(dtype, seed=0, batch=B, length=T, heads=(HQ, HKV), head_dim=D):
  q = test_base.random(seed, (batch, length, heads[0], head_dim), dtype)
  k = test_base.random(seed + 1, (batch, length, heads[1], head_dim), dtype)
  v = test_base.random(seed + 2, (batch, length, heads[1], head_dim), dtype)
  return q, k, v


def _buffer(x_btkd, valid: int, capacity: int):
  """A KV buffer holding x's first `valid` positions, NaN garbage after them."""
  garbage = jnp.full((x_btkd.shape[0], capacity) + x_btkd.shape[2:], jnp.nan, x_btkd.dtype)
  return garbage.at[:, :valid].set(x_btkd[:, :valid])


def _ints(*values):
  return jnp.asarray(values, jnp.int32)


def _oracle(q, k, v, q_start, kv_len, window):
  """Float64 NumPy attention."""
  q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
  _, tq, hq, d = q.shape
  k = np.repeat(k, hq // k.shape[2], axis=2)
  v = np.repeat(np.nan_to_num(v), hq // v.shape[2], axis=2)
  q_pos = np.asarray(q_start)[:, None, None] + np.arange(tq)[None, :, None]
  k_pos = np.arange(k.shape[1])[None, None, :]
  visible = (k_pos <= q_pos) & (k_pos < np.asarray(kv_len)[:, None, None])
  if window is not None:
    visible &= k_pos > q_pos - window
  scores = np.einsum("bthd,bshd->bhts", q, np.nan_to_num(k)) / math.sqrt(d)
  scores = np.where(visible[:, None], scores, -np.inf)
  probs = np.exp(scores - scores.max(-1, keepdims=True))
  probs /= probs.sum(-1, keepdims=True)
  return np.einsum("bhts,bshd->bthd", probs, v)


@functools.cache
def _jitted_attention(impl, window, blocks):
  """One jitted function per static configuration: decode steps reuse its compile."""
  return jax.jit(functools.partial(pk.attention, window=window, impl=impl, blocks=blocks))


class AttentionSuite(test_base.KernelTestBase):

  def attend(self, q, k, v, q_start, kv_len, window=None, blocks=BLOCKS):
    f = _jitted_attention(self.IMPL, window, blocks)
    return np.asarray(f(q, k, v, q_start=q_start, kv_len=kv_len))

  def chunked(self, q, k, v, chunk, window=None, blocks=BLOCKS, capacity=CAPACITY):
    """Prefills the sequence chunk by chunk against a growing KV cache."""
    outs = []
    for start in range(0, q.shape[1], chunk):
      stop = min(start + chunk, q.shape[1])
      outs.append(self.attend(q[:, start:stop], _buffer(k, stop, capacity),
                              _buffer(v, stop, capacity), jnp.full((q.shape[0],), start),
                              jnp.full((q.shape[0],), stop), window, blocks))
    return np.concatenate(outs, axis=1)

  @parameterized.product(dtype=(jnp.float32, jnp.bfloat16), window=(None, 7))
  def test_full_prefill_matches_oracle(self, dtype, window):
    q, k, v = _sequence(dtype)
    out = self.attend(q, k, v, _ints(0, 0), _ints(T, T), window)
    self.assertEqual(out.shape, q.shape)
    self.assertEqual(out.dtype, dtype)
    test_base.assert_close(out, _oracle(q, k, v, [0, 0], [T, T], window), dtype, T)

  @parameterized.parameters(jnp.float32, jnp.bfloat16)
  def test_ragged_chunk_against_cache_matches_oracle(self, dtype):
    # Row 0: 9 new tokens at 21..29 after a 21-token cache; row 1: 9 tokens at 3..11.
    q, k, v = _sequence(dtype)
    q_chunk, q_start, kv_len = q[:, :9], _ints(21, 3), _ints(30, 12)
    k_buf, v_buf = _buffer(k, T, CAPACITY), _buffer(v, T, CAPACITY)
    out = self.attend(q_chunk, k_buf, v_buf, q_start, kv_len, window=12)
    test_base.assert_close(out, _oracle(q_chunk, k_buf, v_buf, q_start, kv_len, 12), dtype, T)

  @parameterized.product(chunk=(1, 5, 13, 16), window=(None, 7))
  def test_cache_invariance(self, chunk, window):
    """Full prefill == chunked prefill against a cache (chunk 1: token-by-token decode)."""
    q, k, v = _sequence(jnp.float32)
    full = self.attend(q, k, v, _ints(0, 0), _ints(T, T), window)
    chunked = self.chunked(q, k, v, chunk, window)
    if self.invariant_impl:
      np.testing.assert_array_equal(chunked, full)
    elif jax.default_backend() == "cpu":
      # Measured: XLA:CPU's einsum/softmax over [.., chunk, S] gives other bits.
      self.assertFalse(np.array_equal(chunked, full), "XLA:CPU measured NOT cache invariant")
      test_base.assert_close(chunked, full, jnp.float32, T)

  def test_head_dim_128(self):
    """D = 128 reads K/V in place ([B, S, Hkv*D] head slices) instead of transposing."""
    q, k, v = _sequence(jnp.float32, length=24, head_dim=128)
    q_start, kv_len = _ints(0, 0), _ints(24, 24)
    full = self.attend(q, k, v, q_start, kv_len, window=11)
    test_base.assert_close(full, _oracle(q, k, v, [0, 0], [24, 24], 11), jnp.float32, 128)
    if self.invariant_impl:
      np.testing.assert_array_equal(self.chunked(q, k, v, 7, window=11), full)

  @parameterized.parameters(1, 5)
  def test_cache_invariance_bf16(self, chunk):
    q, k, v = _sequence(jnp.bfloat16)
    full = self.attend(q, k, v, _ints(0, 0), _ints(T, T))
    chunked = self.chunked(q, k, v, chunk)
    # Measured on XLA:CPU: with bfloat16 in and out, impl="xla" also gave equal
    # bits here (the float32 differences vanish in the rounding to bfloat16).
    if self.invariant_impl or jax.default_backend() == "cpu":
      np.testing.assert_array_equal(chunked.astype(np.float32), full.astype(np.float32))
    else:
      test_base.assert_close(chunked, full, jnp.bfloat16, T)

  @parameterized.parameters(None, 7)
  def test_cache_invariance_one_program_grid(self, window):
    """Batch 1, one head: decode steps run a one-program grid (XLA inlines the loop)."""
    q, k, v = _sequence(jnp.float32, batch=1, heads=(1, 1))
    full = self.attend(q, k, v, _ints(0), _ints(T), window)
    decoded = self.chunked(q, k, v, 1, window)
    if self.invariant_impl:
      np.testing.assert_array_equal(decoded, full)
    else:
      test_base.assert_close(decoded, full, jnp.float32, T)

  def assert_invariant_cases(self, pairs, what):
    """`pairs` of (case, got, want): bitwise equal for pallas; as measured for XLA."""
    differ = [case for case, got, want in pairs if not np.array_equal(got, want)]
    for _, got, want in pairs:
      test_base.assert_close(got, want, jnp.float32, T)
    if self.invariant_impl:
      self.assertEqual(differ, [], f"{what} changed the bits")
    elif jax.default_backend() == "cpu":
      self.assertNotEmpty(differ, f"XLA:CPU was measured to change bits with the {what}")

  def test_capacity_invariance(self):
    """The KV buffer's capacity S (garbage past kv_len) does not change the bits."""
    q, k, v = _sequence(jnp.float32)
    exact = self.attend(q, k, v, _ints(0, 0), _ints(T, T), window=7)
    pairs = [(capacity, self.attend(q, _buffer(k, T, capacity), _buffer(v, T, capacity),
                                    _ints(0, 0), _ints(T, T), window=7), exact)
             for capacity in (T + 1, 64, 100)]
    # Measured on XLA:CPU: 41 gave the same bits, 64 and 100 did not.
    self.assert_invariant_cases(pairs, "KV capacity")

  def test_other_rows_with_other_lengths(self):
    """Row 0's chunk gives the same bits alone and beside rows of other lengths."""
    q, k, v = _sequence(jnp.float32, batch=3)
    q_chunk = q[:, 10:23]
    k_buf, v_buf = _buffer(k, T, CAPACITY), _buffer(v, T, CAPACITY)
    q_start, kv_len = _ints(10, 2, 27), _ints(23, 15, 40)
    together = self.attend(q_chunk, k_buf, v_buf, q_start, kv_len)
    pairs = [(m, self.attend(q_chunk[:m], k_buf[:m], v_buf[:m], q_start[:m], kv_len[:m]),
              together[:m]) for m in (1, 2)]
    # Measured on XLA:CPU: one row alone differs from the same row in a batch of 3.
    self.assert_invariant_cases(pairs, "batch size")

  def test_identical_rows_and_heads(self):
    q, k, v = _sequence(jnp.float32, batch=1, heads=(1, 1))
    stack = lambda x, heads: jnp.broadcast_to(x, (5, T, heads, D))
    out = self.attend(stack(q, HQ), stack(k, HKV), stack(v, HKV), _ints(*[0] * 5),
                      _ints(*[T] * 5))
    for b in range(5):
      for h in range(HQ):
        np.testing.assert_array_equal(out[b, :, h], out[0, :, 0])

  def test_default_blocks(self):
    q, k, v = _sequence(jnp.float32)
    blocks = pk.DEFAULT_BLOCKS
    full = self.attend(q, k, v, _ints(0, 0), _ints(T, T), blocks=blocks)
    test_base.assert_close(full, _oracle(q, k, v, [0, 0], [T, T], None), jnp.float32, T)
    if self.invariant_impl:
      np.testing.assert_array_equal(self.chunked(q, k, v, 13, blocks=blocks), full)

  def test_empty_cache_rows_give_zeros(self):
    q, k, v = _sequence(jnp.float32)
    out = self.attend(q[:, :4], k, v, _ints(0, 0), _ints(0, 4))
    np.testing.assert_array_equal(out[0], np.zeros_like(out[0]))

  def test_gradients_match_reference(self):
    q, k, v = _sequence(jnp.float32, length=20)
    q_start, kv_len = _ints(0, 0), _ints(20, 17)

    def loss(impl):
      def f(q, k, v):
        out = pk.attention(q, k, v, q_start=q_start, kv_len=kv_len, window=9, impl=impl,
                           blocks=BLOCKS)
        return jnp.sum(jnp.sin(out))
      return f

    got = jax.jit(jax.grad(loss(self.IMPL), argnums=(0, 1, 2)))(q, k, v)
    want = jax.grad(loss("xla"), argnums=(0, 1, 2))(q, k, v)
    for g, w in zip(got, want):
      test_base.assert_close(g, w, jnp.float32, 20)

  @parameterized.parameters((40, None, jnp.float32), (300, None, jnp.float32),
                            (300, 150, jnp.float32), (300, None, jnp.bfloat16))
  def test_whole_sequence_matches_oracle(self, length, window, dtype):
    """q_start=None (queries at 0..Tq-1): 300 queries span three chunks of the XLA path,
    which skips key blocks past each chunk; row 1 is shorter than the sequence, and the
    KV buffer has NaN garbage past the sequence."""
    q, k, v = _sequence(dtype, length=length)
    k_buf, v_buf = _buffer(k, length, length + 5), _buffer(v, length, length + 5)
    kv_len = _ints(length, length - 9)
    f = jax.jit(functools.partial(pk.attention, window=window, impl=self.IMPL, blocks=BLOCKS))
    out = np.asarray(f(q, k_buf, v_buf, q_start=None, kv_len=kv_len))
    self.assertEqual(out.dtype, dtype)
    oracle = _oracle(q, k_buf, v_buf, [0, 0], kv_len, window)
    test_base.assert_close(out[0], oracle[0], dtype, length)
    test_base.assert_close(out[1, :length - 9], oracle[1, :length - 9], dtype, length)
    with_start = self.attend(q, k_buf, v_buf, _ints(0, 0), kv_len, window)
    if self.invariant_impl:  # The same kernel: only the backward pass differs.
      np.testing.assert_array_equal(out, with_start)

  def test_whole_sequence_gradients_match_reference(self):
    q, k, v = _sequence(jnp.float32, length=300)
    kv_len = _ints(300, 280)

    def loss(impl, q_start):
      def f(q, k, v):
        out = pk.attention(q, k, v, q_start=q_start, kv_len=kv_len, window=150, impl=impl,
                           blocks=BLOCKS)
        return jnp.sum(jnp.sin(out))
      return f

    got = jax.jit(jax.grad(loss(self.IMPL, None), argnums=(0, 1, 2)))(q, k, v)
    want = jax.jit(jax.grad(loss("xla", _ints(0, 0)), argnums=(0, 1, 2)))(q, k, v)
    for g, w in zip(got, want):
      test_base.assert_close(g, w, jnp.float32, 300)

  def test_whole_sequence_needs_the_keys_of_every_query(self):
    q, k = jnp.zeros((2, 8, 4, 16)), jnp.zeros((2, 6, 2, 16))
    with self.assertRaisesRegex(ValueError, r"q_start=None .* needs Tq <= S, got Tq=8"):
      pk.attention(q, k, k, q_start=None, kv_len=_ints(6, 6), impl=self.IMPL)

  @parameterized.named_parameters(
      ("q_rank", (2, 4, 16), (2, 8, 2, 16), "q must have rank 4"),
      ("batch", (2, 4, 4, 16), (3, 8, 2, 16), "must match q's batch 2"),
      ("head_dim", (2, 4, 4, 16), (2, 8, 2, 32), "head_dim 16"),
      ("heads", (2, 4, 3, 16), (2, 8, 2, 16), r"q heads \(3\) must be a multiple"),
  )
  def test_bad_shapes(self, q_shape, k_shape, message):
    q, k = jnp.zeros(q_shape), jnp.zeros(k_shape)
    with self.assertRaisesRegex(ValueError, message):
      pk.attention(q, k, k, q_start=_ints(0, 0), kv_len=_ints(1, 1), impl=self.IMPL)

  def test_bad_arguments(self):
    q, k = jnp.zeros((2, 4, 4, 16)), jnp.zeros((2, 8, 2, 16))
    call = functools.partial(pk.attention, impl=self.IMPL)
    with self.assertRaisesRegex(ValueError, r"kv_len must lie in \[0, S=8\]"):
      call(q, k, k, q_start=_ints(0, 0), kv_len=_ints(4, 9))
    with self.assertRaisesRegex(ValueError, r"q_start must be an int array of shape \[2\]"):
      call(q, k, k, q_start=_ints(0), kv_len=_ints(4, 4))
    with self.assertRaisesRegex(ValueError, "v must have k's shape"):
      call(q, k, k[:, :4], q_start=_ints(0, 0), kv_len=_ints(4, 4))
    with self.assertRaisesRegex(ValueError, "share one dtype"):
      call(q, k.astype(jnp.bfloat16), k, q_start=_ints(0, 0), kv_len=_ints(4, 4))
    with self.assertRaisesRegex(ValueError, "window must be None or an int >= 1"):
      call(q, k, k, q_start=_ints(0, 0), kv_len=_ints(4, 4), window=0)


class AttentionPallasTest(AttentionSuite):
  IMPL = "pallas"


class AttentionXlaTest(AttentionSuite):
  IMPL = "xla"


del AttentionSuite  # run only through the per-impl subclasses


if __name__ == "__main__":
  absltest.main()
