"""The trainer's view of the mesh: `interaction.sharding` when present, else data parallel.

`interaction.sharding` (the mesh/sharding layer) builds the mesh from the
config's `mesh` section, the logical-axis rules, and the model with its
parameters created already sharded. Until that module exists, or when a config
has no `mesh` section, the trainer uses a plain data-parallel mesh: every
parameter replicated, the batch split over `data`.
"""

import contextlib
import importlib.util
import math

from flax import nnx
import jax

from data_pipelines import stream
from interaction import config as model_config_lib
from interaction import model as model_lib
from interaction import params as params_lib

BATCH_AXIS = "data"


def _sharding_module():
  if importlib.util.find_spec("interaction.sharding") is None:
    return None
  from interaction import sharding  # pylint: disable=g-import-not-at-top
  return sharding


def data_parallel_mesh(global_batch: int) -> jax.sharding.Mesh:
  """A 1-D `data` mesh over as many devices as divide `global_batch` (at most all of them)."""
  n = math.gcd(global_batch, jax.device_count())
  return jax.make_mesh((n,), (BATCH_AXIS,), axis_types=(jax.sharding.AxisType.Auto,),
                       devices=jax.devices()[:n])


def _rules_for(mesh: jax.sharding.Mesh) -> tuple:
  """DEFAULT_RULES with mesh axes missing from `mesh` dropped (replicated)."""
  def keep(target):
    axes = (target,) if isinstance(target, str) else tuple(target or ())
    kept = tuple(a for a in axes if a in mesh.axis_names)
    return kept[0] if len(kept) == 1 else (kept or None)
  return tuple((name, keep(target)) for name, target in params_lib.DEFAULT_RULES)


def make_mesh_and_rules(config, global_batch: int) -> tuple[jax.sharding.Mesh, tuple]:
  """The mesh and logical-axis rules for `config` (see the module docstring)."""
  sharding = _sharding_module()
  if sharding is not None and "mesh" in config:
    return sharding.make_mesh(config), tuple(sharding.logical_rules(config))
  mesh = data_parallel_mesh(global_batch)
  return mesh, _rules_for(mesh)


def rules_for_mesh(mesh: jax.sharding.Mesh, config=None) -> tuple:
  """Logical-axis rules for a mesh given explicitly (the config's rules when it has a mesh section)."""
  sharding = _sharding_module()
  if sharding is not None and config is not None and "mesh" in config:
    return tuple(sharding.logical_rules(config))
  return _rules_for(mesh)


@contextlib.contextmanager
def use(mesh: jax.sharding.Mesh, rules: tuple):
  """`jax.set_mesh(mesh)` and the logical-axis rules, for building, tracing and running."""
  with jax.set_mesh(mesh), nnx.logical_axis_rules(rules):
    yield


def create_model(layout: stream.TickLayout, model_cfg: model_config_lib.ModelConfig,
                 mesh: jax.sharding.Mesh, rules: tuple, seed: int) -> model_lib.InteractionModel:
  """The model with parameters created already sharded over `mesh` (call inside `use`)."""
  sharding = _sharding_module()
  if sharding is not None and hasattr(sharding, "create_model"):
    return sharding.create_model(layout, model_cfg, mesh, rules, seed)
  return model_lib.InteractionModel(layout, model_cfg, rngs=nnx.Rngs(seed))


def batch_sharding(mesh: jax.sharding.Mesh) -> jax.sharding.NamedSharding:
  """How a batch's leading axis is split over the mesh."""
  sharding = _sharding_module()
  if sharding is not None and hasattr(sharding, "batch_sharding"):
    return sharding.batch_sharding(mesh)
  return jax.sharding.NamedSharding(mesh, jax.P(BATCH_AXIS))
