"""Linear and RMSNorm layers whose math runs through `pallas_kernels`.

Under a multi-device mesh (`interaction.sharding.use`) both follow the rules
table through `sharded_kernels`: activation constraints, FSDP gathers, and
Pallas kernels inside `jax.shard_map`.
"""

import jax
from flax import nnx

from interaction import config as config_lib
from interaction import params
from interaction import sharded_kernels


class Linear(nnx.Module):
  """`x [..., d_in] → [..., d_out]` via `pk.matmul`, optional bias (exact add)."""

  def __init__(self, d_in: int, d_out: int, axes: tuple[str | None, str | None],
               cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs, bias: bool = False,
               scale: float | None = None):
    self.kernel = params.param(rngs, (d_in, d_out), axes, scale=scale)  # [d_in, d_out]
    self.bias = params.param(rngs, (d_out,), (axes[1],), init="zeros") if bias else None
    self.axes = tuple(axes)  # the kernel's logical axes: [d_in, d_out].
    self.cfg = cfg

  def __call__(self, x: jax.Array) -> jax.Array:
    y = sharded_kernels.matmul(x, self.kernel[...], self.axes, self.cfg.kernel_args)
    return y if self.bias is None else y + self.bias[...]


class RMSNorm(nnx.Module):
  """RMSNorm over the last axis via `pk.rms_norm`, learned scale (init 1)."""

  def __init__(self, dim: int, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs,
               axis: str | None = "embed"):
    self.scale = params.param(rngs, (dim,), (axis,), init="ones")  # [dim]
    self.cfg = cfg

  def __call__(self, x: jax.Array) -> jax.Array:
    return sharded_kernels.rms_norm(x, self.scale[...], self.cfg.kernel_args)
