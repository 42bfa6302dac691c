"""Training the interaction model: trainer, optimizer, checkpoints, evaluation, inference restore.

`Trainer(config, workdir)` / `train(config, workdir)` train from an experiment
config (sections stream, data, model, train and optionally mesh);
`restore_for_inference(workdir)` gives `(config, model)` from a run's latest
checkpoint.
"""

from interaction.training.checkpoints import NoUsableCheckpointError
from interaction.training.config import TrainConfig
from interaction.training.inference import restore_for_inference
from interaction.training.trainer import NonFiniteError
from interaction.training.trainer import Trainer
from interaction.training.trainer import train
