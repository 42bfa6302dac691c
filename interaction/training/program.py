"""The compiled side of training: model, optimizer, sharded train state and jitted steps.

`build_program` makes everything the trainer runs except the data and the
checkpoints, so tests and benchmarks can drive steps on any batch, and
`abstract=True` builds it from shapes only (no parameter memory), which is how
the ~1B variants are checked on a CPU.
"""

import dataclasses
import functools

from flax import nnx
import jax
import optax

from data_pipelines import stream
from interaction import config as model_config_lib
from interaction import model as model_lib
from interaction import sharding
from interaction.training import config as config_lib
from interaction.training import evaluation
from interaction.training import optim
from interaction.training import step as step_lib

@dataclasses.dataclass
class TrainProgram:
  """What one training run compiles and carries.

  state: the train state (see `step`), concrete arrays sharded over `mesh`, or
    ShapeDtypeStructs when built abstractly.
  train_step: jitted `(state, batch) -> (state, metrics)`.
  eval_step: jitted `(params, batch, key) -> sums` (see `evaluation`).
  """
  layout: stream.TickLayout
  model_cfg: model_config_lib.ModelConfig
  train_cfg: config_lib.TrainConfig
  mesh: jax.sharding.Mesh
  rules: tuple
  graphdef: nnx.GraphDef
  state: dict
  state_shardings: dict
  batch_sharding: jax.sharding.NamedSharding
  schedule: optax.Schedule
  train_step: callable
  eval_step: callable

  def context(self):
    """The mesh and logical-axis rules to trace and run the steps under."""
    return sharding.use(self.mesh, self.rules)

  def model(self, params: dict | None = None) -> model_lib.InteractionModel:
    """The model with `params` (default the state's)."""
    return nnx.merge(self.graphdef, self.state["params"] if params is None else params)


def optimizer_shardings(tx, params, param_shardings, replicated):
  """Shardings of `tx.init(params)`: parameter-shaped leaves like their parameter, the rest
  replicated."""
  return optax.tree_utils.tree_map_params(
      tx, lambda _, sharding: sharding, jax.eval_shape(tx.init, params), param_shardings,
      transform_non_params=lambda _: replicated,
      is_leaf=lambda x: isinstance(x, jax.sharding.Sharding))


def _unsharded_model(layout, model_cfg, seed: int) -> model_lib.InteractionModel:
  with nnx.use_eager_sharding(False):
    return model_lib.InteractionModel(layout, model_cfg, rngs=nnx.Rngs(seed))


def build_program(config, mesh: jax.sharding.Mesh, *, abstract: bool = False) -> TrainProgram:
  """Builds the model (parameters created sharded over `mesh`) and the jitted steps.

  The logical-axis rules come from the config (`interaction.sharding`); a
  concrete build fails when a large parameter is left replicated on a mesh
  that shards parameters (`sharding.check_sharded`). Donation: on
  accelerators the train step donates the old state (updated in place); on CPU
  it does not, because an asynchronous checkpoint may still be reading host
  buffers that a donated state would reuse.
  """
  layout = stream.TickLayout.from_config(config.stream)
  model_cfg = model_config_lib.ModelConfig.from_config(config.model)
  train_cfg = config_lib.TrainConfig.from_config(config.train)
  rules = sharding.logical_rules(config)
  tx, schedule = optim.make_optimizer(train_cfg), optim.learning_rate_schedule(train_cfg)
  if abstract:
    model = nnx.eval_shape(functools.partial(_unsharded_model, layout, model_cfg, config.seed))
  else:
    model = sharding.create_model(layout, model_cfg, mesh, rules, config.seed)
    sharding.check_sharded(model, mesh, rules=rules)
  graphdef, params_state = nnx.split(model)
  params = nnx.to_pure_dict(params_state)
  replicated = jax.sharding.NamedSharding(mesh, jax.P())
  param_shardings = nnx.to_pure_dict(sharding.state_shardings(params_state, mesh, rules))
  state_shardings = {"params": param_shardings,
                     "opt_state": optimizer_shardings(tx, params, param_shardings, replicated),
                     **{k: replicated for k in step_lib.COUNTERS}}
  batch_sharding = sharding.batch_sharding(mesh, rules)
  donate = () if jax.default_backend() == "cpu" else (0,)
  with sharding.use(mesh, rules):
    init = jax.jit(functools.partial(step_lib.init_state, tx=tx, seed=config.seed),
                   out_shardings=state_shardings)
    state = jax.eval_shape(init, params) if abstract else init(params)
    train_step = jax.jit(
        step_lib.make_train_step(graphdef, tx, schedule, train_cfg.compute_dtype),
        in_shardings=(state_shardings, batch_sharding),
        out_shardings=(state_shardings, replicated), donate_argnums=donate)
    eval_step = jax.jit(evaluation.make_eval_step(graphdef, train_cfg.compute_dtype),
                        in_shardings=(param_shardings, batch_sharding, replicated),
                        out_shardings=replicated)
  return TrainProgram(layout=layout, model_cfg=model_cfg, train_cfg=train_cfg, mesh=mesh,
                      rules=rules, graphdef=graphdef, state=state,
                      state_shardings=state_shardings, batch_sharding=batch_sharding,
                      schedule=schedule, train_step=train_step, eval_step=eval_step)
