"""Logical axis names → mesh axes: spec resolution and activation sharding constraints.

Parameters and activations name their axes logically ("embed", "heads",
"activation_batch", ...); one rules table (`params.DEFAULT_RULES`, or the
config's `mesh.rules`) maps each name to mesh axes. The rules have flax's
semantics (`nnx.logical_axis_rules`): a name maps to None (replicated), one
mesh axis, or a tuple of mesh axes (sharded over their product). At trace time
the rules come from flax's `nnx.logical_axis_rules` context and the mesh from
`jax.set_mesh`; `sharding.use(mesh, rules)` enters both.

Without a mesh (or on a one-device mesh) every function here is the identity,
so single-device code paths (tests, the sampler) need no context at all.
"""

import jax
import numpy as np
from flax import nnx
from flax.core import spmd as flax_spmd

MESH_AXES = ("data", "fsdp", "expert", "sequence", "tensor")

# Activation logical axes (parameters use the names in params.DEFAULT_RULES).
BATCH = "activation_batch"  # the leading batch axis of every activation and input.
LENGTH = "activation_length"  # sequence outside the tensor-parallel region (SP).
ATTN_LENGTH = "activation_attn_length"  # sequence inside attention (context parallel).
HEADS = "activation_heads"  # query and key/value heads alike (GQA groups stay together).

Rules = tuple[tuple[str, str | tuple[str, ...] | None], ...]


def current_mesh() -> jax.sharding.AbstractMesh | None:
  """The mesh set by `jax.set_mesh` when it has more than one device, else None."""
  mesh = jax.sharding.get_abstract_mesh()
  return None if mesh.empty or mesh.size == 1 else mesh


def current_rules() -> Rules:
  """The rules of the enclosing `nnx.logical_axis_rules` context.

  Raises:
    ValueError: under a multi-device mesh with no rules (activations would
      silently lose their sharding).
  """
  rules = tuple(flax_spmd.get_logical_axis_rules())
  if not rules:
    raise ValueError("a multi-device mesh is set but no logical axis rules are; enter "
                     "interaction.sharding.use(mesh, rules) around tracing and running")
  return rules


def validate_rules(rules: Rules) -> Rules:
  """Returns `rules` as a tuple of (name, None | mesh axis | tuple of mesh axes).

  Raises:
    ValueError: a malformed entry, a duplicated logical name, or a mesh axis
      that is not one of MESH_AXES.
  """
  out, seen = [], set()
  for entry in rules:
    if len(entry) != 2 or not isinstance(entry[0], str):
      raise ValueError(f"a rule must be (logical name, mesh axes), got {entry!r}")
    name, target = entry
    if name in seen:
      raise ValueError(f"logical axis {name!r} has two rules")
    seen.add(name)
    axes = _as_tuple(target)
    unknown = [a for a in axes if a not in MESH_AXES]
    if unknown:
      raise ValueError(f"rule {name!r} -> {target!r} names mesh axes {unknown}; "
                       f"expected axes from {MESH_AXES}")
    out.append((name, target if target is None or isinstance(target, str) else axes))
  return tuple(out)


def _as_tuple(target) -> tuple[str, ...]:
  if target is None:
    return ()
  return (target,) if isinstance(target, str) else tuple(target)


def mesh_axes(name: str | None, rules: Rules, mesh) -> tuple[str, ...]:
  """The mesh axes (present in `mesh`) that logical axis `name` maps to.

  Raises:
    ValueError: `name` has no rule.
  """
  if name is None:
    return ()
  table = dict(rules)
  if name not in table:
    raise ValueError(f"logical axis {name!r} has no rule; the rules cover {sorted(table)}")
  return tuple(a for a in _as_tuple(table[name]) if a in mesh.axis_names)


def spec(names: tuple[str | None, ...], rules: Rules, mesh) -> tuple[tuple[str, ...], ...]:
  """Mesh axes per dimension for logical `names`; raises if a mesh axis is used twice."""
  dims = tuple(mesh_axes(n, rules, mesh) for n in names)
  used = [a for d in dims for a in d]
  if len(used) != len(set(used)):
    raise ValueError(f"logical axes {names} map to mesh axes {dims}, which use one axis twice")
  return dims


def axis_size(axes: tuple[str, ...], mesh) -> int:
  return int(np.prod([mesh.shape[a] for a in axes], dtype=np.int64))


def fit(dims: tuple[tuple[str, ...], ...], shape: tuple[int, ...],
        mesh) -> tuple[tuple[str, ...], ...]:
  """Drops trailing mesh axes of each dim until its size divides evenly (activations only)."""
  out = []
  for axes, size in zip(dims, shape):
    axes = tuple(axes)
    while axes and size % axis_size(axes, mesh):
      axes = axes[:-1]
    out.append(axes)
  return tuple(out)


def pspec(dims: tuple[tuple[str, ...], ...]) -> jax.sharding.PartitionSpec:
  """A PartitionSpec from per-dimension mesh axes (() → None, one axis → its name)."""
  return jax.P(*(None if not d else d[0] if len(d) == 1 else d for d in dims))


def constrain(x: jax.Array, names: tuple[str | None, ...]) -> jax.Array:
  """`x` with a sharding constraint from its logical axis `names` (identity without a mesh).

  Dimensions that do not divide evenly over their mesh axes keep fewer axes.
  """
  mesh = current_mesh()
  if mesh is None:
    return x
  if len(names) != x.ndim:
    raise ValueError(f"{len(names)} logical axis names {names} for an array of shape {x.shape}")
  dims = fit(spec(names, current_rules(), mesh), x.shape, mesh)
  return jax.lax.with_sharding_constraint(x, pspec(dims))


def rules_context(rules: Rules):
  """flax's `nnx.logical_axis_rules` context for `rules`."""
  return nnx.logical_axis_rules(rules)
