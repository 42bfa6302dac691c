"""Dense SiLU feed-forward through `pallas_kernels`."""

import jax
from flax import nnx

import pallas_kernels as pk
from interaction import config as config_lib
from interaction import layers
from interaction import sharded_kernels


class DenseFFN(nnx.Module):
  """`x [..., d_model] → [..., d_model]`: down(silu(up(x)))."""

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    self.up = layers.Linear(cfg.d_model, cfg.d_ff, ("embed", "mlp"), cfg, rngs=rngs)
    self.down = layers.Linear(cfg.d_ff, cfg.d_model, ("mlp", "embed"), cfg, rngs=rngs)
    self.cfg = cfg

  def __call__(self, x: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Returns the output and (for a uniform interface with MoE) no aux losses."""
    return self.down(sharded_kernels.rowwise(pk.silu, self.up(x), self.cfg.kernel_args,
                                             "mlp")), {}
