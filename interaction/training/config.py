"""The trainer's hyperparameters: one frozen dataclass built from the config's `train` section."""

import dataclasses

import jax.numpy as jnp

from interaction import checks

# train.precision → the dtype the forward and backward compute in (see `step`).
COMPUTE_DTYPES = {"f32": jnp.float32, "bf16": jnp.bfloat16}
PRECISIONS = tuple(COMPUTE_DTYPES)
SCHEDULES = ("cosine", "constant")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How to optimize, checkpoint, evaluate and log.

  Attributes:
    steps: training steps (batches) in the whole run, resumed runs included.
    learning_rate: peak learning rate, reached after `warmup_steps` (linear from 0).
    warmup_steps: linear warmup length.
    schedule: "cosine" decays from the peak to `end_lr_ratio × peak` at `steps`;
      "constant" stays at the peak after warmup.
    end_lr_ratio: final learning rate as a fraction of the peak (cosine only).
    clip_norm: gradients are rescaled to this global L2 norm when above it.
    weight_decay, b1, b2: AdamW (decoupled weight decay on every parameter).
    precision: "f32" (everything float32) or "bf16" (mixed precision): the
      parameters and the AdamW state stay float32; each step rounds a copy of
      the parameters to bfloat16 inside the differentiated function, so the
      forward and backward compute in bfloat16 (kernels accumulate and reduce
      in float32 inside) and the gradients reach the optimizer as float32. The
      text log-softmax and the text and flow losses with their reductions stay
      float32 (the MoE aux losses come from bfloat16 router logits). Heldout
      evaluation uses the same compute dtype.
    checkpoint_every, checkpoint_keep, async_checkpoints: orbax cadence, how many
      to keep, and whether saving overlaps training.
    eval_every, eval_batches: heldout evaluation cadence and size (0 disables).
    log_every: TensorBoard and progress-bar cadence in steps.
    max_consecutive_nonfinite: training halts after this many rejected
      (non-finite) steps in a row.
    distributed: call `jax.distributed.initialize()` first (multi-host runs).
  """
  steps: int = 1000
  learning_rate: float = 1e-3
  warmup_steps: int = 100
  schedule: str = "cosine"
  end_lr_ratio: float = 0.1
  clip_norm: float = 1.0
  weight_decay: float = 0.1
  b1: float = 0.9
  b2: float = 0.95
  precision: str = "f32"
  checkpoint_every: int = 200
  checkpoint_keep: int = 3
  async_checkpoints: bool = True
  eval_every: int = 200
  eval_batches: int = 4
  log_every: int = 10
  max_consecutive_nonfinite: int = 5
  distributed: bool = False

  def __post_init__(self):
    if self.precision not in PRECISIONS:
      raise ValueError(f"train.precision must be one of {PRECISIONS}, got {self.precision!r}")
    if self.schedule not in SCHEDULES:
      raise ValueError(f"train.schedule must be one of {SCHEDULES}, got {self.schedule!r}")
    for name in ("steps", "checkpoint_every", "checkpoint_keep", "log_every",
                 "max_consecutive_nonfinite"):
      if getattr(self, name) < 1:
        raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
    for name in ("warmup_steps", "eval_every", "eval_batches"):
      if getattr(self, name) < 0:
        raise ValueError(f"train.{name} must be >= 0, got {getattr(self, name)}")
    if not self.learning_rate > 0 or not self.clip_norm > 0:
      raise ValueError(f"train.learning_rate and train.clip_norm must be > 0, got "
                       f"{self.learning_rate} and {self.clip_norm}")
    if not 0 <= self.end_lr_ratio <= 1:
      raise ValueError(f"train.end_lr_ratio must be in [0, 1], got {self.end_lr_ratio}")

  @property
  def compute_dtype(self):
    """The dtype of the forward and backward pass (`precision`'s dtype)."""
    return COMPUTE_DTYPES[self.precision]

  @classmethod
  def from_config(cls, config) -> "TrainConfig":
    """From a config section with the same field names (unknown names raise)."""
    return cls(**checks.section_values(cls, config, "train"))
