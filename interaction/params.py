"""Parameter creation with logical sharding axis names, and the default rules table.

Every parameter of the model is made here, so every one carries `out_sharding`
logical axis names (mapped to mesh axes by the rules table below; see
`interaction.partitioning`). Creating an annotated variable needs a mesh in
context (`jax.set_mesh`) or `nnx.use_eager_sharding(False)` (flax 0.12.12
raises otherwise); `interaction.sharding.create_model` builds a model already
sharded over a mesh.
"""

import jax
import jax.numpy as jnp
from flax import nnx

# Logical axis → mesh axes; one table for the whole model (MaxText style), the
# default of the config's `mesh.rules`. Mesh axes: data, fsdp, expert, sequence,
# tensor (`partitioning.MESH_AXES`); an axis of size 1 shards nothing, so every
# parallelism strategy is a choice of mesh axis sizes with this one table.
DEFAULT_RULES = (
    # Parameters: FSDP shards the model dimension (gathered per use); tensor
    # parallelism shards heads, the FFN hidden width and the vocabulary; expert
    # parallelism shards the experts.
    ("embed", "fsdp"),
    ("vocab", "tensor"),
    ("heads", "tensor"),
    ("kv_heads", "tensor"),
    ("head_dim", None),
    ("mlp", "tensor"),
    ("experts", "expert"),
    ("table", None),
    ("features", None),
    # Activations: the batch over every data-like axis; the residual stream's
    # sequence over `sequence` and, outside the tensor-parallel region, also over
    # `tensor` (Megatron sequence parallelism); inside attention only over
    # `sequence` (keys and values gathered).
    ("activation_batch", ("data", "fsdp", "expert")),
    ("activation_length", ("sequence", "tensor")),
    ("activation_attn_length", "sequence"),
    ("activation_heads", "tensor"),
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
