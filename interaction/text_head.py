"""Text head: hidden states → log-probabilities over the byte+special vocabulary."""

import jax
from flax import nnx

import pallas_kernels as pk
from data_pipelines import text as text_lib
from interaction import config as config_lib
from interaction import layers
from interaction import sharded_kernels


class TextHead(nnx.Module):
  """`h [..., d_model] → log-probs [..., VOCAB_SIZE]` (pk.matmul, then pk.log_softmax)."""

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    self.proj = layers.Linear(cfg.d_model, text_lib.VOCAB_SIZE, ("embed", "vocab"), cfg, rngs=rngs)
    self.cfg = cfg

  def __call__(self, h: jax.Array) -> jax.Array:
    return sharded_kernels.rowwise(pk.log_softmax, self.proj(h), self.cfg.kernel_args)
