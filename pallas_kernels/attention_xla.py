"""Plain-jnp causal GQA attention: the test oracle and the fast whole-sequence path.

Both functions compute the same softmax attention in float32 (see
`attention.attention` for the masking rules) and are *not* batch or cache
invariant. `attention_reference` handles any query chunk against any KV
buffer. `attention_whole_sequence` is for the case where the queries are
positions 0..Tq-1 of every row (training and whole-sequence prefill): the
caller promises q_start = 0 statically, so it splits the queries into chunks and
gives each chunk only the keys it can see (up to its last query, and from the
window's first key), skipping the score blocks above the causal diagonal that
the reference computes and then masks. Results agree with the reference to
float32 rounding (reductions over fewer masked zeros may round differently).
"""

import math

import jax
import jax.numpy as jnp

# Query chunks of the whole-sequence path: at most this many per call...
_MAX_QUERY_CHUNKS = 32
# ...and at least this many queries each. At the tiny config's 2,100 positions,
# 128-query chunks made attention forward+backward 2.8x faster than the dense
# reference on XLA:CPU (64: about the same; 512: 2x; 1,024: 1.5x).
_MIN_QUERY_CHUNK = 128


def attention_reference(q, k, v, q_start, kv_len, *, window):
  """Causal GQA attention of queries at q_start[b] + 0..Tq-1 against all S keys.

  The dense oracle: every [query, key] score is computed, then masked.
  Shapes as in `attention.attention`; returns [B, Tq, Hq, D] in q's dtype.
  """
  q_pos_bt = q_start[:, None] + jnp.arange(q.shape[1])
  return _dense(q, k, v, q_pos_bt, jnp.arange(k.shape[1]), kv_len, window)


def attention_whole_sequence(q, k, v, kv_len, *, window):
  """`attention_reference` for q_start = 0 on every row, skipping invisible key blocks.

  Query chunk [a, e) attends to keys [lo, e) with lo = 0, or a - window + 1
  under a sliding window: no key outside that range is visible to it. Keys at
  positions >= Tq (a larger KV buffer) are never visible and never read.
  Cost: about (n + 1) / 2n of the reference's score work for n chunks.
  """
  tq = q.shape[1]
  chunk = max(_MIN_QUERY_CHUNK, -(-tq // _MAX_QUERY_CHUNKS))
  rows = q.shape[0]
  outs = []
  for a in range(0, tq, chunk):
    e = min(a + chunk, tq)
    lo = 0 if window is None else max(0, a - window + 1)
    q_pos_bt = jnp.broadcast_to(jnp.arange(a, e), (rows, e - a))
    outs.append(_dense(q[:, a:e], k[:, lo:e], v[:, lo:e], q_pos_bt, jnp.arange(lo, e),
                       kv_len, window))
  return jnp.concatenate(outs, axis=1)


def _dense(q, k, v, q_pos_bt, k_pos_s, kv_len, window):
  """Attention of q [B, Tq, Hq, D] at positions q_pos_bt [B, Tq] to the keys
  k, v [B, S, Hkv, D] at positions k_pos_s [S], all in float32.

  The query heads sharing a KV head are folded into the query axis, so both
  products are batched matmuls over [batch, kv_head] with no transposes of the
  [Tq, S]-sized score and probability arrays (2-3x faster on XLA:CPU than
  grouping the heads in their own axis). Masked scores are -inf, so their
  probability is exactly exp(-inf) = 0; rows with no visible key give 0.
  """
  b, tq, hq, d = q.shape
  s, hkv = k.shape[1], k.shape[2]
  g = hq // hkv
  q_bkqd = (q.astype(jnp.float32).reshape(b, tq, hkv, g, d).transpose(0, 2, 3, 1, 4)
            .reshape(b, hkv, g * tq, d))  # Query axis = (group member, position).
  k_bksd = k.astype(jnp.float32).transpose(0, 2, 1, 3)
  v_bksd = v.astype(jnp.float32).transpose(0, 2, 1, 3)
  valid_bs = k_pos_s[None, :] < kv_len[:, None]
  v_bksd = jnp.where(valid_bs[:, None, :, None], v_bksd, 0)  # Garbage past kv_len stays out.
  scores = jnp.einsum("bkqd,bksd->bkqs", q_bkqd, k_bksd,
                      precision=jax.lax.Precision.HIGHEST) / math.sqrt(d)
  visible_bts = _visible(q_pos_bt, k_pos_s, valid_bs, window)
  visible = jnp.tile(visible_bts, (1, g, 1))[:, None]  # [B, 1, G * Tq, S]
  scores = jnp.where(visible, scores, -jnp.inf)
  row_max = jnp.max(scores, axis=-1, keepdims=True)
  row_max = jnp.where(jnp.isfinite(row_max), row_max, 0.0)
  probs = jnp.exp(scores - row_max)
  denom = jnp.sum(probs, axis=-1, keepdims=True)
  out_bkqd = jnp.einsum("bkqs,bksd->bkqd", probs, v_bksd, precision=jax.lax.Precision.HIGHEST)
  out_bkqd = out_bkqd / jnp.where(denom > 0, denom, 1.0)  # Normalized on [Tq, D], not [Tq, S].
  out = out_bkqd.reshape(b, hkv, g, tq, d).transpose(0, 3, 1, 2, 4)
  return out.reshape(b, tq, hq, d).astype(q.dtype)


def _visible(q_pos_bt, k_pos_s, valid_bs, window):
  """[B, Tq, S] mask of keys a query may attend to."""
  q_pos = q_pos_bt[:, :, None]
  k_pos = k_pos_s[None, None, :]
  mask = (k_pos <= q_pos) & valid_bs[:, None, :]
  if window is not None:
    mask &= k_pos > q_pos - window
  return mask
