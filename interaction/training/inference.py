"""A trained model for inference: the latest checkpoint's parameters in the run's own config."""

import json
import os

from flax import nnx
import jax
import ml_collections

from data_pipelines import stream
from interaction import config as model_config_lib
from interaction import model as model_lib
from interaction.training import checkpoints as checkpoints_lib
from interaction.training import trainer as trainer_lib


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run in `workdir` was started with."""
  path = os.path.join(workdir, trainer_lib.CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} does not exist; is {workdir!r} a training workdir?")
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def restore_for_inference(workdir: str, *, step: int | None = None,
                          device: jax.Device | None = None
                          ) -> tuple[ml_collections.ConfigDict, model_lib.InteractionModel]:
  """(config, model): checkpoint `step` of `workdir` in the saved config's model.

  By default the latest checkpoint that restores (a corrupt latest one is
  skipped with a warning, as in training). The parameters are float32,
  unsharded, on `device` (default the first one).

  Raises:
    FileNotFoundError: no config or no checkpoint in `workdir`.
    ValueError: the checkpoint was made with another model/stream config.
    NoUsableCheckpointError: no checkpoint restores.
  """
  config = load_config(workdir)
  layout = stream.TickLayout.from_config(config.stream)
  model_cfg = model_config_lib.ModelConfig.from_config(config.model)
  with nnx.use_eager_sharding(False):
    abstract = nnx.eval_shape(
        lambda: model_lib.InteractionModel(layout, model_cfg, rngs=nnx.Rngs(config.seed)))
  graphdef, abstract_state = nnx.split(abstract)
  placement = jax.sharding.SingleDeviceSharding(device or jax.devices()[0])
  target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=placement),
                        nnx.to_pure_dict(abstract_state))
  checkpoints = checkpoints_lib.Checkpoints(os.path.join(workdir, trainer_lib.CHECKPOINT_DIR))
  try:
    _, params = checkpoints.restore_params(
        target, lambda meta: trainer_lib.check_fingerprint(meta, config, checkpoints.directory),
        step)
  finally:
    checkpoints.close()
  return config, nnx.merge(graphdef, params)
