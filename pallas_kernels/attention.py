"""Causal GQA attention over a KV buffer, with fixed key splits aligned to position 0.

One call serves full-sequence prefill, chunked prefill against a KV cache and
one-token decode. impl="pallas" gives a query at absolute position p the same
bits in all three cases (cache invariance) and whatever else is in the batch
(batch invariance):

* Query tiles are aligned to absolute position 0: the chunk of row b is placed
  at offset `q_start[b] % attention_q` of a zeroed, tile-aligned buffer, so
  query p always sits in row p % attention_q of the tile starting at
  p - p % attention_q.
* Keys are visited in splits of `attention_kv` keys aligned to position 0,
  from the first split the tile's window can reach to the split holding the
  tile's last position, left to right, with an online softmax in float32.
  That range depends only on the tile's absolute position (and the window),
  never on kv_len, the chunk length or the buffer capacity S.
* Keys that are causally masked, outside the window, or at or beyond kv_len get
  probability exactly 0 (an explicit select, not exp(-inf)), and values at or
  beyond kv_len are zeroed, so whatever the buffer holds there cannot leak in.

One program handles one (row, kv head, query tile): it loads each K/V split
once and runs the online softmax for every query head of the GQA group on it.
"""

import functools
import math

import jax
from jax.experimental import pallas as pl
import jax.numpy as jnp
import numpy as np

from pallas_kernels import attention_xla
from pallas_kernels import checks
from pallas_kernels import config
from pallas_kernels import platform
from pallas_kernels import vjp


def attention(q: jax.Array, k: jax.Array, v: jax.Array, *, q_start: jax.Array | None,
              kv_len: jax.Array, window: int | None = None, impl: str,
              backend: str | None = None,
              blocks: config.BlockSizes = config.DEFAULT_BLOCKS) -> jax.Array:
  """Causal grouped-query attention of a query chunk against a KV buffer.

  Query i of row b sits at absolute position `q_start[b] + i` and attends to
  the keys at positions j with `j <= q_start[b] + i`, `j < kv_len[b]` and, if
  `window` is set, `j > q_start[b] + i - window` (a window of `window` keys,
  itself included). Scores are scaled by 1/sqrt(D); softmax in float32.
  Queries with no visible key (e.g. padding rows past kv_len with kv_len = 0)
  give 0.

  Args:
    q: [B, Tq, Hq, D] float32 or bfloat16 queries.
    k: [B, S, Hkv, D] keys, same dtype; only the first kv_len[b] are read.
    v: [B, S, Hkv, D] values, same dtype and shape as k.
    q_start: [B] int, absolute position of each row's first query; or None,
      a static promise that every row's queries are positions 0..Tq-1 (a
      whole-sequence forward), which lets impl="xla" (and the backward pass of
      impl="pallas") skip the key blocks above the causal diagonal
      (`attention_xla.attention_whole_sequence`).
    kv_len: [B] int, number of valid keys (cache plus current chunk), <= S.
    window: optional sliding-window length in keys (>= 1).
    impl: "pallas" (batch and cache invariant) or "xla" (reference).
    backend: Pallas backend; None picks by device.
    blocks: block sizes (`attention_q`, `attention_kv` are used).

  Returns:
    [B, Tq, Hq, D] in q's dtype.

  Raises:
    ValueError: on a rank, shape or dtype mismatch, Hq not a multiple of Hkv,
      a bad window, or (when they are concrete, not traced) kv_len outside
      [0, S] or a negative q_start.
  """
  checks.check_impl(impl)
  whole_sequence = q_start is None
  if whole_sequence:
    if q.shape[1] > k.shape[1]:
      raise ValueError(f"q_start=None (queries at positions 0..Tq-1) needs Tq <= S, got "
                       f"Tq={q.shape[1]} queries for a KV buffer of {k.shape[1]} keys")
    q_start = jnp.zeros(q.shape[:1], jnp.int32)
  _check_inputs(q, k, v, q_start, kv_len, window)
  q_start, kv_len = q_start.astype(jnp.int32), kv_len.astype(jnp.int32)
  reference = _whole_sequence_reference if whole_sequence else attention_xla.attention_reference
  if impl == "xla":
    return reference(q, k, v, q_start, kv_len, window=window)
  f = vjp.with_reference_vjp(_attention_pallas, reference, window=window,
                             backend=platform.resolve_backend(backend), blocks=blocks)
  return f(q, k, v, q_start, kv_len)


def _whole_sequence_reference(q, k, v, q_start, kv_len, *, window):
  """`attention_xla.attention_whole_sequence` with the reference's signature; q_start is
  all zeros here (the caller passed None)."""
  del q_start
  return attention_xla.attention_whole_sequence(q, k, v, kv_len, window=window)


def _check_inputs(q, k, v, q_start, kv_len, window):
  checks.check_rank("q", q, 4, "batch, q_len, q_heads, head_dim")
  checks.check_rank("k", k, 4, "batch, kv_capacity, kv_heads, head_dim")
  checks.check_float("q", q)
  checks.check_same_dtype("q, k and v", q, k, v)
  if v.shape != k.shape:
    raise ValueError(f"v must have k's shape {k.shape}, got {v.shape}")
  b, _, hq, d = q.shape
  if k.shape[0] != b or k.shape[3] != d:
    raise ValueError(
        f"k [B, S, Hkv, D] must match q's batch {b} and head_dim {d}, got {k.shape}")
  if hq % k.shape[2]:
    raise ValueError(
        f"q heads ({hq}) must be a multiple of kv heads ({k.shape[2]}) for GQA")
  for name, a in (("q_start", q_start), ("kv_len", kv_len)):
    if a.shape != (b,) or not jnp.issubdtype(a.dtype, jnp.integer):
      raise ValueError(f"{name} must be an int array of shape [{b}], got {a.dtype}{a.shape}")
  if window is not None and (not isinstance(window, int) or window < 1):
    raise ValueError(f"window must be None or an int >= 1, got {window!r}")
  if not isinstance(kv_len, jax.core.Tracer):
    kv_np = np.asarray(kv_len)
    if (kv_np > k.shape[1]).any() or (kv_np < 0).any():
      raise ValueError(
          f"kv_len must lie in [0, S={k.shape[1]}] (the KV buffer capacity), got {kv_np}")
  if not isinstance(q_start, jax.core.Tracer) and (np.asarray(q_start) < 0).any():
    raise ValueError(f"q_start must be >= 0, got {np.asarray(q_start)}")


def _attention_kernel(tile0_ref, kv_len_ref, q_ref, k_ref, v_ref, o_ref, *,
                      block_q: int, block_kv: int, capacity: int,
                      window: int | None, scale: float, backend: str):
  # q_ref, o_ref [group, block_q, Dp]: the query heads sharing one kv head;
  # k_ref, v_ref [capacity, Dp]: that kv head. Each split of K/V is loaded once
  # and used by every head of the group; each head keeps its own online softmax
  # on [block_q, block_kv] tiles, so a head's bits do not depend on the group.
  group = q_ref.shape[0]
  b = pl.program_id(0)
  base = (tile0_ref[b] + pl.program_id(2)) * block_q  # absolute position of row 0
  kv_len = kv_len_ref[b]
  q_gqd = platform.pin(backend, [q_ref[g] for g in range(group)])
  q_pos_q1 = base + jax.lax.broadcasted_iota(jnp.int32, (block_q, 1), 0)
  first = 0 if window is None else jnp.maximum(base - window + 1, 0) // block_kv
  last = (jnp.minimum(base + block_q, capacity) + block_kv - 1) // block_kv
  precision = (jax.lax.Precision.HIGHEST if q_ref.dtype == jnp.float32
               else jax.lax.Precision.DEFAULT)

  def split(j, carry):
    start = pl.multiple_of(j * block_kv, block_kv)
    k_sd, v_sd = platform.pin(backend, (k_ref[pl.ds(start, block_kv), :],
                                        v_ref[pl.ds(start, block_kv), :]))
    k_pos_1s = start + jax.lax.broadcasted_iota(jnp.int32, (1, block_kv), 1)
    visible_qs = (k_pos_1s <= q_pos_q1) & (k_pos_1s < kv_len)
    if window is not None:
      visible_qs &= k_pos_1s > q_pos_q1 - window
    k_pos_s1 = start + jax.lax.broadcasted_iota(jnp.int32, (block_kv, 1), 0)
    v_sd = jnp.where(k_pos_s1 < kv_len, v_sd, jnp.zeros_like(v_sd))
    new_carry = []
    for q_qd, (m_q1, l_q1, acc_qd) in zip(q_gqd, carry):
      s_qs = jax.lax.dot_general(q_qd, k_sd, (((1,), (1,)), ((), ())),
                                 preferred_element_type=jnp.float32,
                                 precision=precision) * scale
      s_qs = jnp.where(visible_qs, s_qs, -jnp.inf)
      m_new_q1 = jnp.maximum(m_q1, jnp.max(s_qs, axis=1, keepdims=True))
      m_ref_q1 = jnp.where(m_new_q1 == -jnp.inf, 0.0, m_new_q1)
      alpha_q1 = jnp.where(m_q1 == -jnp.inf, 0.0, jnp.exp(m_q1 - m_ref_q1))
      p_qs = jnp.where(visible_qs, jnp.exp(s_qs - m_ref_q1), 0.0)
      alpha_q1, p_qs = platform.pin(backend, (alpha_q1, p_qs))  # one exp per element
      l_q1 = alpha_q1 * l_q1 + jnp.sum(p_qs, axis=1, keepdims=True)
      pv_qd = jnp.dot(p_qs.astype(v_sd.dtype), v_sd, preferred_element_type=jnp.float32,
                      precision=precision)
      new_carry.append((m_new_q1, l_q1, alpha_q1 * acc_qd + pv_qd))
    return new_carry

  init = [(jnp.full((block_q, 1), -jnp.inf, jnp.float32),
           jnp.zeros((block_q, 1), jnp.float32),
           jnp.zeros(q_qd.shape, jnp.float32)) for q_qd in q_gqd]
  carry = jax.lax.fori_loop(first, last, split, init)
  for g, (_, l_q1, acc_qd) in enumerate(carry):
    o_qd = acc_qd / jnp.where(l_q1 > 0, l_q1, 1.0)
    o_ref[g] = platform.pin(backend, o_qd.astype(o_ref.dtype))


def _kv_layout(k, v, capacity, dp, backend):
  """K/V as kernel operands, and the BlockSpec giving one kv head's [capacity, Dp].

  Where the block's last dim may be one head's slice of the heads*dim axis
  (Triton always; TPU, and interpret mode which mirrors it, when D is a
  multiple of 128 lanes), the buffer is only reshaped to [B, S, Hkv*Dp]: no
  copy of the KV cache unless S must be padded to the block multiple or D to a
  power of two. Otherwise it is transposed to head-major [B, Hkv, capacity, Dp]
  first, an O(S) copy per call. Both give the kernel the same values.
  """
  b, _, hkv, d = k.shape
  if backend == "triton" or d % platform.LANES == 0:
    def head_slices(x):
      x = platform.pad_axis(platform.pad_axis(x, 1, capacity), 3, dp)
      return x.reshape(b, capacity, hkv * dp)
    spec = pl.BlockSpec((pl.squeezed, capacity, dp), lambda i, h, t: (i, 0, h))
    return head_slices(k), head_slices(v), spec

  def head_major(x):
    return platform.pad_axis(platform.pad_axis(jnp.swapaxes(x, 1, 2), 2, capacity), 3, dp)
  spec = pl.BlockSpec((pl.squeezed, pl.squeezed, capacity, dp), lambda i, h, t: (i, h, 0, 0))
  return head_major(k), head_major(v), spec


def _attention_pallas(q, k, v, q_start, kv_len, *, window, backend, blocks):
  b, tq, hq, d = q.shape
  s, hkv = k.shape[1], k.shape[2]
  group = hq // hkv
  bq, bkv = blocks.attention_q, blocks.attention_kv
  dp = platform.head_dim(d, backend)
  n_tiles = -(-(tq + bq - 1) // bq)  # enough tiles for any offset q_start % bq
  capacity = platform.round_up(s, max(bq, bkv))  # a multiple of both (powers of 2)

  # Queries into tile-aligned slots: row b's chunk starts at q_start[b] % bq.
  offset_b = q_start % bq
  q_bhtd = platform.pad_axis(jnp.swapaxes(q, 1, 2), 3, dp)
  slots = jnp.zeros((hq, n_tiles * bq, dp), q.dtype)
  q_bhtd = jax.vmap(lambda q_htd, off: jax.lax.dynamic_update_slice(
      slots, q_htd, (0, off, 0)))(q_bhtd, offset_b)
  k_kv, v_kv, kv_spec = _kv_layout(k, v, capacity, dp, backend)
  nb = platform.next_power_of_two(b)
  tile0_b = platform.pad_axis(q_start // bq, 0, nb)
  kv_len_b = platform.pad_axis(kv_len, 0, nb)

  # Grid over kv heads; head h of q is head h % group of kv head h // group.
  q_bkgtd = q_bhtd.reshape(b, hkv, group, n_tiles * bq, dp)
  scalar = platform.scalar_spec(backend)
  q_spec = pl.BlockSpec((pl.squeezed, pl.squeezed, group, bq, dp),
                        lambda i, h, t: (i, h, 0, t, 0))
  kernel = functools.partial(_attention_kernel, block_q=bq, block_kv=bkv, capacity=capacity,
                             window=window, scale=1.0 / math.sqrt(d), backend=backend)
  o_bkgtd = pl.pallas_call(
      kernel,
      out_shape=jax.ShapeDtypeStruct(q_bkgtd.shape, q.dtype),
      grid=(b, hkv, n_tiles),
      in_specs=[scalar, scalar, q_spec, kv_spec, kv_spec],
      out_specs=q_spec,
      name="invariant_attention",
      **platform.call_options(backend, grid_rank=3),
  )(tile0_b, kv_len_b, q_bkgtd, k_kv, v_kv)
  o_bhtd = o_bkgtd.reshape(q_bhtd.shape)
  o_bhtd = jax.vmap(lambda o_htd, off: jax.lax.dynamic_slice(
      o_htd, (0, off, 0), (hq, tq, dp)))(o_bhtd, offset_b)
  return jnp.swapaxes(o_bhtd[..., :d], 1, 2)
