"""Rotary position embedding that reads sin/cos from a precomputed table.

The table is computed once on the host in float64 (NumPy) and rounded to
float32, so no XLA transcendental runs on the forward path and a position's
angle has the same bits in the trainer and the sampler. Applying it is a
gather plus multiplies and adds.
"""

import jax
import jax.numpy as jnp
import numpy as np


def rope_table(max_len: int, head_dim: int, *, base: float = 10000.0) -> jax.Array:
  """Returns [max_len, head_dim // 2, 2] float32: (cos, sin) of position * freq."""
  if head_dim % 2 or head_dim < 2:
    raise ValueError(f"head_dim must be even and >= 2, got {head_dim}")
  if max_len < 1:
    raise ValueError(f"max_len must be >= 1, got {max_len}")
  inv_freq_f = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
  angle_pf = np.arange(max_len, dtype=np.float64)[:, None] * inv_freq_f[None, :]
  return jnp.asarray(np.stack([np.cos(angle_pf), np.sin(angle_pf)], -1).astype(np.float32))


def apply_rope(x: jax.Array, positions: jax.Array, table: jax.Array) -> jax.Array:
  """Rotates halves of `x [B, T, H, D]` by the angles of `positions [B, T]`.

  GPT-NeoX layout: (x1, x2) = (x[..., :D/2], x[..., D/2:]) becomes
  (x1 cos - x2 sin, x2 cos + x1 sin), in float32, returned in x's dtype.
  Positions must be < table length (the gather clamps out-of-range indices).
  """
  if x.ndim != 4:
    raise ValueError(f"x must have rank 4 [batch, time, heads, head_dim], got {x.shape}")
  b, t, _, d = x.shape
  if positions.shape != (b, t):
    raise ValueError(f"positions must have shape [{b}, {t}], got {positions.shape}")
  if table.shape[1:] != (d // 2, 2):
    raise ValueError(f"table must have shape [max_len, {d // 2}, 2] for head_dim {d}, "
                     f"got {table.shape}")
  cos_sin_btf2 = jnp.take(table, positions, axis=0)
  cos_bt1f = cos_sin_btf2[:, :, None, :, 0]
  sin_bt1f = cos_sin_btf2[:, :, None, :, 1]
  x1, x2 = jnp.split(x.astype(jnp.float32), 2, axis=-1)
  rotated = jnp.concatenate([x1 * cos_bt1f - x2 * sin_bt1f, x2 * cos_bt1f + x1 * sin_bt1f], -1)
  return rotated.astype(x.dtype)
