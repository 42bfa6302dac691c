"""The shared decoder: pre-norm blocks (RMSNorm → GQA attention, RMSNorm → dense or MoE FFN)."""

import jax
import jax.numpy as jnp
from flax import nnx

import pallas_kernels as pk
from interaction import attention
from interaction import config as config_lib
from interaction import ffn
from interaction import kv_cache
from interaction import layers
from interaction import moe


class Block(nnx.Module):
  """`x + attn(norm(x))`, then `+ ffn(norm(x))`."""

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    self.attn_norm = layers.RMSNorm(cfg.d_model, cfg, rngs=rngs)
    self.attn = attention.Attention(cfg, rngs=rngs)
    self.ffn_norm = layers.RMSNorm(cfg.d_model, cfg, rngs=rngs)
    self.ffn = moe.MoEFFN(cfg, rngs=rngs) if cfg.n_experts else ffn.DenseFFN(cfg, rngs=rngs)

  def __call__(self, x_btd: jax.Array, rope_table: jax.Array, **cache_args):
    """Returns (x, aux losses of the FFN, updated layer cache); see `Attention`."""
    attn_out, cache = self.attn(self.attn_norm(x_btd), rope_table, **cache_args)
    x_btd = x_btd + attn_out
    y_btd, aux = self.ffn(self.ffn_norm(x_btd))
    return x_btd + y_btd, aux, cache


class Decoder(nnx.Module):
  """`n_layers` blocks and a final RMSNorm over `x [B, T, d_model]`."""

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    self.blocks = nnx.List([Block(cfg, rngs=rngs) for _ in range(cfg.n_layers)])
    self.norm = layers.RMSNorm(cfg.d_model, cfg, rngs=rngs)
    self.cfg = cfg

  def __call__(self, x_btd: jax.Array,
               rope_table: jax.Array | None = None) -> tuple[jax.Array, dict[str, jax.Array]]:
    """A whole sequence at positions 0..T-1 → (h [B, T, d], aux).

    aux holds each MoE loss averaged over layers ({} for a dense model).
    rope_table defaults to `pk.rope_table(T)`; the model passes its shared one.
    """
    if rope_table is None:
      rope_table = pk.rope_table(x_btd.shape[1], self.cfg.head_dim, base=self.cfg.rope_base)
    totals = {}
    for block in self.blocks:
      x_btd, aux, _ = block(x_btd, rope_table)
      for name, value in aux.items():
        totals[name] = totals.get(name, 0.0) + value
    n = len(self.blocks)
    return self.norm(x_btd), {name: jnp.asarray(v) / n for name, v in totals.items()}

  def extend(self, x_btd: jax.Array, rope_table: jax.Array,
             caches: tuple[kv_cache.LayerCache, ...], q_start_b: jax.Array,
             active_b: jax.Array) -> tuple[jax.Array, tuple[kv_cache.LayerCache, ...]]:
    """A chunk at positions q_start_b + 0..T-1 appended to per-layer caches.

    Returns (h [B, T, d], updated caches); rows with active_b False keep their
    caches. Under impl="pallas" h has the bits `__call__` gives those positions.
    """
    new_caches = []
    for block, cache in zip(self.blocks, caches, strict=True):
      x_btd, _, cache = block(x_btd, rope_table, cache=cache, q_start_b=q_start_b,
                              active_b=active_b)
      new_caches.append(cache)
    return self.norm(x_btd), tuple(new_caches)
