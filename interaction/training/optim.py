"""AdamW with linear warmup, cosine (or constant) decay and global-norm clipping."""

import optax

from interaction.training import config as config_lib


def learning_rate_schedule(cfg: config_lib.TrainConfig) -> optax.Schedule:
  """Step → learning rate: linear 0 → peak over warmup, then cosine to end_lr_ratio × peak."""
  peak = cfg.learning_rate
  if cfg.schedule == "constant":
    return optax.join_schedules(
        [optax.linear_schedule(0.0, peak, cfg.warmup_steps), optax.constant_schedule(peak)],
        [cfg.warmup_steps])
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=peak, warmup_steps=cfg.warmup_steps,
      decay_steps=max(cfg.steps, cfg.warmup_steps + 1), end_value=cfg.end_lr_ratio * peak)


def make_optimizer(cfg: config_lib.TrainConfig) -> optax.GradientTransformation:
  """Clip to `clip_norm` (global L2), then AdamW driven by `learning_rate_schedule`.

  The schedule reads the optimizer's own update count, so a rejected
  (non-finite) step, which leaves the optimizer state untouched, does not
  advance it.
  """
  return optax.chain(
      optax.clip_by_global_norm(cfg.clip_norm),
      optax.adamw(learning_rate_schedule(cfg), b1=cfg.b1, b2=cfg.b2,
                  weight_decay=cfg.weight_decay))
