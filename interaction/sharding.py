"""Mesh, rules table and sharded model creation: data, FSDP, tensor, expert, sequence parallelism.

Every parallelism strategy is a choice of mesh axis sizes (the config's `mesh`
section) with one logical-axis rules table (`mesh.rules`, default
`params.DEFAULT_RULES`); there are no per-strategy code paths:

  data      batch over `data`.
  fsdp      batch over `fsdp` too; parameters sharded on their model
            dimension ("embed") over `fsdp` and gathered per use.
  tensor    heads, FFN width and vocabulary over `tensor` (Megatron).
  sequence  outside the tensor-parallel region the residual stream is also
            sharded along the sequence over `tensor` (Megatron SP), and over
            `sequence` everywhere (context parallelism: attention gathers keys
            and values, each query shard offset to its absolute positions).
  expert    experts over `expert` (`interaction.expert_parallel`); the batch
            is sharded over it elsewhere.

Typical use (the trainer jits its step with explicit shardings under `use`):

  mesh = sharding.make_mesh(config)
  rules = sharding.logical_rules(config)
  model = sharding.create_model(layout, model_cfg, mesh, rules, seed=config.seed)
  sharding.check_sharded(model, mesh, rules=rules)
  with sharding.use(mesh, rules):
    step = jax.jit(step_fn, in_shardings=..., out_shardings=...)
    state = step(state, jax.device_put(batch, sharding.batch_sharding(mesh, rules)))

`jax.jit` + `jax.set_mesh` only (no pjit, no `with mesh:`). The layers read the
mesh and the rules at trace time (`interaction.sharded_kernels`): activation
constraints, FSDP gathers, and every Pallas kernel (impl="pallas") inside
`jax.shard_map`. Trace a function under the same `use(mesh, rules)` it runs
under: jit's cache key includes the mesh but not flax's rules context.
Numerics: sharded losses and gradients equal the single-device ones to float
tolerance; under impl="pallas" with only data-like axes (data, fsdp, expert)
the per-token outputs are bit-identical to one device.
"""

import contextlib
import math

import jax
import numpy as np
from flax import nnx

from data_pipelines.stream import TickLayout
from interaction import config as config_lib
from interaction import model as model_lib
from interaction import params
from interaction import partitioning

MESH_AXES = partitioning.MESH_AXES
DEFAULT_MIN_SIZE = 1 << 22  # elements (16 MiB in float32).


def mesh_shape(mesh_config, n_devices: int) -> dict[str, int]:
  """Axis sizes from a `mesh` config section; the one -1 (if any) takes the remaining devices.

  Raises:
    ValueError: a missing or non-positive size, more than one -1, or sizes whose
      product does not equal `n_devices`.
  """
  sizes = {}
  for axis in MESH_AXES:
    if axis not in mesh_config:
      raise ValueError(f"mesh config has no size for axis {axis!r}; expected sizes for {MESH_AXES}")
    size = int(mesh_config[axis])
    if size < 1 and size != -1:
      raise ValueError(f"mesh.{axis} must be >= 1 or -1 (the rest), got {size}")
    sizes[axis] = size
  rest = [a for a, s in sizes.items() if s == -1]
  if len(rest) > 1:
    raise ValueError(f"only one mesh axis may be -1, got {rest}")
  fixed = math.prod(s for s in sizes.values() if s != -1)
  if rest:
    if n_devices % fixed:
      raise ValueError(f"mesh sizes {sizes}: {fixed} does not divide the {n_devices} devices")
    sizes[rest[0]] = n_devices // fixed
  elif fixed != n_devices:
    raise ValueError(f"mesh sizes {sizes} multiply to {fixed}, but there are {n_devices} devices")
  return sizes


def make_mesh(config, devices=None) -> jax.sharding.Mesh:
  """The device mesh of `config.mesh` (axes MESH_AXES, Auto axis types).

  Args:
    config: the experiment config; its `mesh` section gives each axis size
      (-1: the remaining devices).
    devices: the devices to use (default: all of them, every process's).
  """
  devices = jax.devices() if devices is None else list(devices)
  sizes = mesh_shape(config.mesh, len(devices))
  shape = tuple(sizes[a] for a in MESH_AXES)
  return jax.make_mesh(shape, MESH_AXES, axis_types=(jax.sharding.AxisType.Auto,) * len(shape),
                       devices=devices)


def logical_rules(config) -> partitioning.Rules:
  """The rules table of `config.mesh.rules` (validated), or `params.DEFAULT_RULES` if absent."""
  rules = config.mesh.get("rules") if "mesh" in config else None
  return partitioning.validate_rules(params.DEFAULT_RULES if rules is None else rules)


@contextlib.contextmanager
def use(mesh: jax.sharding.Mesh, rules: partitioning.Rules):
  """`jax.set_mesh(mesh)` and flax's `nnx.logical_axis_rules(rules)` together.

  Trace and run sharded functions inside it: activation constraints and the
  shard_map'd Pallas kernels read both at trace time.
  """
  with jax.set_mesh(mesh), partitioning.rules_context(rules):
    yield


def _path_name(path) -> str:
  return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def _is_variable(x) -> bool:
  return isinstance(x, nnx.Variable)


def state_shardings(state, mesh: jax.sharding.Mesh, rules: partitioning.Rules):
  """`NamedSharding`s (same tree as `state`) from each variable's `out_sharding` names.

  Raises:
    ValueError: naming the parameter, when a dimension does not divide evenly
      over its mesh axes or a logical name has no rule.
  """
  def sharding_of(path, var):
    names = var.get_metadata().get("out_sharding")
    shape = np.shape(var.get_value())
    if not names:
      return var.replace(jax.NamedSharding(mesh, jax.P()))
    try:
      dims = partitioning.spec(tuple(names), rules, mesh)
    except ValueError as e:
      raise ValueError(f"parameter {_path_name(path)}: {e}") from None
    for size, axes, name in zip(shape, dims, names):
      if size % partitioning.axis_size(axes, mesh):
        raise ValueError(
            f"parameter {_path_name(path)} of shape {shape}: dim {name!r} of size {size} does "
            f"not divide over mesh axes {axes} (size {partitioning.axis_size(axes, mesh)})")
    return var.replace(jax.NamedSharding(mesh, partitioning.pspec(dims)))

  return jax.tree_util.tree_map_with_path(sharding_of, state, is_leaf=_is_variable)


def create_model(layout: TickLayout, model_cfg: config_lib.ModelConfig,
                 mesh: jax.sharding.Mesh, rules: partitioning.Rules,
                 seed: int) -> model_lib.InteractionModel:
  """An `InteractionModel` whose parameters are created already sharded over `mesh`.

  Initialization runs in one jitted function whose outputs have the shardings
  of the rules table, so no device ever holds a whole unsharded model. The
  values are the same bits on every mesh (partitionable threefry; tested on a
  one- and an eight-device mesh), those of a jitted unsharded
  `InteractionModel(layout, model_cfg, rngs=nnx.Rngs(seed))`. An eager
  (unjitted) build can differ in the last ulp: the normal initializer's
  erfinv rounds differently there.
  """
  rules = partitioning.validate_rules(rules)

  def init():
    with nnx.use_eager_sharding(False):
      model = model_lib.InteractionModel(layout, model_cfg, rngs=nnx.Rngs(seed))
    return nnx.split(model)

  graphdef, abstract_state = nnx.eval_shape(init)
  shardings = state_shardings(abstract_state, mesh, rules)
  with use(mesh, rules):
    state = jax.jit(lambda: init()[1], out_shardings=shardings)()
  return nnx.merge(graphdef, state)


def check_sharded(model: nnx.Module, mesh: jax.sharding.Mesh, *,
                  rules: partitioning.Rules | None = None,
                  min_size: int = DEFAULT_MIN_SIZE) -> None:
  """Fails when a parameter of >= `min_size` elements is fully replicated by mistake.

  A mistake is a large fully replicated parameter that either the rules
  (default `params.DEFAULT_RULES`) would shard on this mesh (it was not created
  or placed through them), or that sits on a mesh with fsdp > 1 (FSDP means
  every large parameter is sharded; its logical axes map to no sharded mesh
  axis). Replication the strategy intends (e.g. non-expert parameters under
  pure expert parallelism, everything under pure data parallelism) passes.

  Raises:
    ValueError: naming every such parameter with its shape and logical axes.
  """
  rules = params.DEFAULT_RULES if rules is None else rules
  fsdp = mesh.shape.get("fsdp", 1) > 1
  replicated = []
  leaves = jax.tree_util.tree_leaves_with_path(nnx.state(model, nnx.Param), is_leaf=_is_variable)
  for path, var in leaves:
    value = var.get_value()
    if value.size < min_size or not value.sharding.is_fully_replicated:
      continue
    names = var.get_metadata().get("out_sharding")
    dims = partitioning.spec(tuple(names), rules, mesh) if names else ()
    if fsdp or any(partitioning.axis_size(axes, mesh) > 1 for axes in dims):
      replicated.append(f"{_path_name(path)} {tuple(value.shape)} axes={names}")
  if replicated:
    sizes = {a: mesh.shape[a] for a in mesh.axis_names}
    raise ValueError(
        f"{len(replicated)} parameter(s) of >= {min_size} elements are fully replicated on "
        f"mesh {sizes}: " + "; ".join(replicated) + ". Create the model with "
        "sharding.create_model, and give parameters logical axes that the rules map to "
        "sharded mesh axes.")


def batch_axes(mesh: jax.sharding.Mesh, rules: partitioning.Rules | None = None
               ) -> tuple[str, ...]:
  """Mesh axes of the leading batch axis (the rules' "activation_batch")."""
  rules = params.DEFAULT_RULES if rules is None else rules
  return partitioning.mesh_axes(partitioning.BATCH, rules, mesh)


def batch_sharding(mesh: jax.sharding.Mesh, rules: partitioning.Rules | None = None
                   ) -> jax.NamedSharding:
  """Sharding of every array of a batch dict: leading axis over the batch mesh axes.

  By default data, fsdp and expert; the global batch size must be a multiple
  of their product. Other dimensions are replicated.
  """
  return jax.NamedSharding(mesh, partitioning.pspec((batch_axes(mesh, rules),)))
