"""The shared decoder: pre-norm blocks (RMSNorm → GQA attention, RMSNorm → dense or MoE FFN)."""

import jax
import jax.numpy as jnp
from flax import nnx

from interaction import attention
from interaction import config as config_lib
from interaction import ffn
from interaction import layers
from interaction import moe


class Block(nnx.Module):
  """`x + attn(norm(x))`, then `+ ffn(norm(x))`; returns (x, aux losses of the FFN)."""

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    self.attn_norm = layers.RMSNorm(cfg.d_model, cfg, rngs=rngs)
    self.attn = attention.Attention(cfg, rngs=rngs)
    self.ffn_norm = layers.RMSNorm(cfg.d_model, cfg, rngs=rngs)
    self.ffn = moe.MoEFFN(cfg, rngs=rngs) if cfg.n_experts else ffn.DenseFFN(cfg, rngs=rngs)

  def __call__(self, x_btd: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    x_btd = x_btd + self.attn(self.attn_norm(x_btd))
    y_btd, aux = self.ffn(self.ffn_norm(x_btd))
    return x_btd + y_btd, aux


class Decoder(nnx.Module):
  """`n_layers` blocks and a final RMSNorm: `x [B, T, d] → (h [B, T, d], aux)`.

  aux holds each MoE loss averaged over layers ({} for a dense model).
  """

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    self.blocks = nnx.List([Block(cfg, rngs=rngs) for _ in range(cfg.n_layers)])
    self.norm = layers.RMSNorm(cfg.d_model, cfg, rngs=rngs)

  def __call__(self, x_btd: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    totals = {}
    for block in self.blocks:
      x_btd, aux = block(x_btd)
      for name, value in aux.items():
        totals[name] = totals.get(name, 0.0) + value
    n = len(self.blocks)
    return self.norm(x_btd), {name: jnp.asarray(v) / n for name, v in totals.items()}
