"""Text head: hidden states → log-probabilities over the byte+special vocabulary."""

import jax
import jax.numpy as jnp
from flax import nnx

import pallas_kernels as pk
from data_pipelines import text as text_lib
from interaction import config as config_lib
from interaction import layers
from interaction import sharded_kernels


class TextHead(nnx.Module):
  """`h [..., d_model] → float32 log-probs [..., VOCAB_SIZE]` (pk.matmul, then pk.log_softmax).

  The projection runs in the parameters' dtype; its logits are cast to float32
  before the log-softmax, so log-probs (and the losses built on them) are
  float32 also under bfloat16 compute (the cast is a no-op for float32).
  """

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    self.proj = layers.Linear(cfg.d_model, text_lib.VOCAB_SIZE, ("embed", "vocab"), cfg, rngs=rngs)
    self.cfg = cfg

  def __call__(self, h: jax.Array) -> jax.Array:
    logits = self.proj(h).astype(jnp.float32)
    return sharded_kernels.rowwise(pk.log_softmax, logits, self.cfg.kernel_args)
