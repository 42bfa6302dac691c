"""Parameter creation with logical sharding axis names, and the default rules table.

Every parameter of the model is made here, so every one carries `out_sharding`
logical axis names (mapped to mesh axes by `nnx.logical_axis_rules`). Creating
an annotated variable needs a mesh in context (`jax.set_mesh`) or
`nnx.use_eager_sharding(False)` (flax 0.12.12 raises otherwise).
"""

import jax
import jax.numpy as jnp
from flax import nnx

# Logical axis → mesh axis; one table for the whole model (MaxText style).
DEFAULT_RULES = (
    ("batch", "data"),
    ("embed", None),
    ("vocab", "model"),
    ("heads", "model"),
    ("kv_heads", "model"),
    ("head_dim", None),
    ("mlp", "model"),
    ("experts", None),
    ("table", None),
    ("features", None),
)


def param(rngs: nnx.Rngs, shape: tuple[int, ...], axes: tuple[str | None, ...], *,
          scale: float | None = None, init: str = "normal") -> nnx.Param:
  """A float32 Param of `shape` named by `axes` (one logical name per dim).

  init="normal" draws N(0, scale²) with scale defaulting to 1/sqrt(shape[0])
  (fan-in); "ones" and "zeros" are constant.
  """
  if len(shape) != len(axes):
    raise ValueError(f"{len(axes)} axis names {axes} for a parameter of shape {shape}")
  if init == "normal":
    std = shape[0] ** -0.5 if scale is None else scale
    initializer = nnx.initializers.normal(std)
  elif init == "ones":
    initializer = nnx.initializers.ones_init()
  elif init == "zeros":
    initializer = nnx.initializers.zeros_init()
  else:
    raise ValueError(f"init must be 'normal', 'ones' or 'zeros', got {init!r}")
  annotated = nnx.with_partitioning(initializer, axes)
  return nnx.Param(annotated(rngs.params(), shape, jnp.float32))


def count(module: nnx.Module) -> int:
  """Number of scalar parameters in `module`."""
  return sum(x.size for x in jax.tree.leaves(nnx.state(module, nnx.Param)))
