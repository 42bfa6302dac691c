"""The per-layer key/value cache of streaming sessions: fixed-capacity buffers.

A cache row holds one session. Its buffers have a static capacity S (positions),
so appending never changes a shape and never recompiles; positions at or
beyond a row's valid length hold stale values that attention never reads
(the kernel zeroes them and gives them probability exactly 0).
"""

import dataclasses

import jax
import jax.numpy as jnp


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LayerCache:
  """Keys and values of one attention layer: `[rows, S, n_kv_heads, head_dim]` each."""
  k: jax.Array
  v: jax.Array

  @property
  def capacity(self) -> int:
    return self.k.shape[1]

  @classmethod
  def zeros(cls, rows: int, capacity: int, n_kv_heads: int, head_dim: int,
            dtype=jnp.float32) -> "LayerCache":
    shape = (rows, capacity, n_kv_heads, head_dim)
    return cls(k=jnp.zeros(shape, dtype), v=jnp.zeros(shape, dtype))

  def write(self, k_new: jax.Array, v_new: jax.Array, start_b: jax.Array,
            active_b: jax.Array) -> "LayerCache":
    """Writes a chunk `[rows, T, n_kv_heads, head_dim]` at positions start_b..start_b+T-1.

    Rows with active_b False keep their old contents (the chunk is computed
    for every row of a batched step but only committed for active sessions).
    The caller guarantees start_b + T <= capacity (a dynamic slice would clamp).
    """
    def write_row(buf, new, start, active):
      old = jax.lax.dynamic_slice_in_dim(buf, start, new.shape[0], axis=0)
      return jax.lax.dynamic_update_slice_in_dim(buf, jnp.where(active, new, old), start, axis=0)

    write_rows = jax.vmap(write_row)
    return LayerCache(k=write_rows(self.k, k_new.astype(self.k.dtype), start_b, active_b),
                      v=write_rows(self.v, v_new.astype(self.v.dtype), start_b, active_b))
