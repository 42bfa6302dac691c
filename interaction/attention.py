"""Grouped-query self-attention with table RoPE, through `pallas_kernels`."""

import jax
import jax.numpy as jnp
from flax import nnx

import pallas_kernels as pk
from interaction import config as config_lib
from interaction import layers


class Attention(nnx.Module):
  """Causal GQA over a whole sequence: `x [B, T, d_model] → [B, T, d_model]`.

  Queries and keys are rotated by RoPE at absolute positions 0..T-1 read from a
  float64-computed table; the attention kernel starts every row at position 0,
  so under impl="pallas" a position's output has the same bits as the
  sampler's chunked/cached computation of it (the kernels' cache invariance).
  """

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    d, hd = cfg.d_model, cfg.head_dim
    self.q = layers.Linear(d, cfg.n_heads * hd, ("embed", "heads"), cfg, rngs=rngs)
    self.k = layers.Linear(d, cfg.n_kv_heads * hd, ("embed", "kv_heads"), cfg, rngs=rngs)
    self.v = layers.Linear(d, cfg.n_kv_heads * hd, ("embed", "kv_heads"), cfg, rngs=rngs)
    self.o = layers.Linear(cfg.n_heads * hd, d, ("heads", "embed"), cfg, rngs=rngs)
    self.cfg = cfg

  def __call__(self, x_btd: jax.Array) -> jax.Array:
    cfg = self.cfg
    b, t, _ = x_btd.shape
    positions_bt = jnp.broadcast_to(jnp.arange(t), (b, t))
    table = pk.rope_table(t, cfg.head_dim, base=cfg.rope_base)
    q_bthd = pk.apply_rope(self.q(x_btd).reshape(b, t, cfg.n_heads, cfg.head_dim),
                           positions_bt, table)
    k_bthd = pk.apply_rope(self.k(x_btd).reshape(b, t, cfg.n_kv_heads, cfg.head_dim),
                           positions_bt, table)
    v_bthd = self.v(x_btd).reshape(b, t, cfg.n_kv_heads, cfg.head_dim)
    out_bthd = pk.attention(q_bthd, k_bthd, v_bthd, q_start=jnp.zeros((b,), jnp.int32),
                            kv_len=jnp.full((b,), t, jnp.int32), **cfg.kernel_args)
    return self.o(out_bthd.reshape(b, t, -1))
