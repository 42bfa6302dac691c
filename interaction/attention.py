"""Grouped-query self-attention with table RoPE, through `pallas_kernels`."""

import jax
import jax.numpy as jnp
from flax import nnx

import pallas_kernels as pk
from interaction import config as config_lib
from interaction import kv_cache
from interaction import layers
from interaction import sharded_kernels


class Attention(nnx.Module):
  """Causal GQA: a chunk `x [B, T, d_model]` at positions q_start_b + 0..T-1 → `[B, T, d_model]`.

  Without a cache the chunk is the whole sequence (q_start 0). With a
  `kv_cache.LayerCache` the chunk's keys and values are first written into the
  cache at its positions, and queries attend to everything up to themselves.
  Queries and keys are rotated by RoPE read from `rope_table` (one table shared
  by trainer and sampler), and under impl="pallas" the kernel gives a position
  the same bits whichever way its keys arrived (the kernels' cache invariance).
  """

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    d, hd = cfg.d_model, cfg.head_dim
    self.q = layers.Linear(d, cfg.n_heads * hd, ("embed", "heads"), cfg, rngs=rngs)
    self.k = layers.Linear(d, cfg.n_kv_heads * hd, ("embed", "kv_heads"), cfg, rngs=rngs)
    self.v = layers.Linear(d, cfg.n_kv_heads * hd, ("embed", "kv_heads"), cfg, rngs=rngs)
    self.o = layers.Linear(cfg.n_heads * hd, d, ("heads", "embed"), cfg, rngs=rngs)
    self.cfg = cfg

  def __call__(self, x_btd: jax.Array, rope_table: jax.Array,
               cache: kv_cache.LayerCache | None = None,
               q_start_b: jax.Array | None = None,
               active_b: jax.Array | None = None) -> tuple[jax.Array, kv_cache.LayerCache | None]:
    """Returns the output and the updated cache (None without one).

    Args:
      x_btd: the chunk's inputs.
      rope_table: `pk.rope_table` rows covering every position used.
      cache: this layer's cache, or None for a whole-sequence forward.
      q_start_b: int [B], position of each row's first token (cache only).
      active_b: bool [B], rows whose cache is updated (cache only).
    """
    cfg = self.cfg
    b, t, _ = x_btd.shape
    if q_start_b is None:
      q_start_b = jnp.zeros((b,), jnp.int32)
    positions_bt = q_start_b[:, None] + jnp.arange(t, dtype=jnp.int32)
    q_bthd = pk.apply_rope(self.q(x_btd).reshape(b, t, cfg.n_heads, cfg.head_dim),
                           positions_bt, rope_table)
    k_bthd = pk.apply_rope(self.k(x_btd).reshape(b, t, cfg.n_kv_heads, cfg.head_dim),
                           positions_bt, rope_table)
    v_bthd = self.v(x_btd).reshape(b, t, cfg.n_kv_heads, cfg.head_dim)
    if cache is not None:
      cache = cache.write(k_bthd, v_bthd, q_start_b, active_b)
      k_bshd, v_bshd = cache.k, cache.v
    else:
      k_bshd, v_bshd = k_bthd, v_bthd
    # Without a cache the kernels are told the chunk is the whole sequence (q_start None).
    out_bthd = sharded_kernels.attention(q_bthd, k_bshd, v_bshd,
                                         q_start_b if cache is not None else None,
                                         q_start_b + t, cfg.kernel_args)
    return self.o(out_bthd.reshape(b, t, -1)), cache
