"""The trainer: sharded jitted steps, checkpoints with resume, non-finite guard, eval, logging.

Usable from a notebook:
  trainer = Trainer(config, workdir)   # resumes from the latest usable checkpoint
  trainer.run(steps=50)                # or trainer.step(batch) for one batch
  trainer.evaluate()
  trainer.close()
or `train(config, workdir)` for a whole run.

Guarantees: the same config (seed, data and model) gives bit-identical
parameters on the same mesh and devices, also across a crash and resume: a
step's randomness is `fold_in(rng, step)` and the data iterator position is
saved with every checkpoint. Global batch = `data.batch_size`; each of the
`jax.process_count()` processes reads its own `batch_size / process_count`
episodes from the pipeline and the global batch is assembled over the mesh.
"""

import dataclasses
import json
import logging
import os
import time

from flax import nnx
import jax
import numpy as np

from data_pipelines import pipeline
from interaction import sharding
from interaction.training import checkpoints as checkpoints_lib
from interaction.training import config as config_lib
from interaction.training import evaluation
from interaction.training import program as program_lib
from interaction.training import writer as writer_lib

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
# Model fields that do not change the parameters (a checkpoint serves any of their values).
_NON_PARAM_MODEL_FIELDS = ("impl", "backend", "blocks", "flow_loss_weight", "load_balance_weight",
                           "router_z_weight", "onset_loss_weight", "content_loss_weight")


class NonFiniteError(RuntimeError):
  """Too many consecutive steps had a non-finite loss or gradient."""


def param_fingerprint(config) -> dict:
  """The parts of a config that fix the parameter shapes: stream layout and model sizes."""
  model = {k: v for k, v in config.model.to_dict().items() if k not in _NON_PARAM_MODEL_FIELDS}
  return json.loads(json.dumps({"model": model, "stream": config.stream.to_dict()}))


def check_fingerprint(meta: dict, config, where: str) -> None:
  """Raises ValueError when a checkpoint's `meta` was made with different parameter shapes."""
  expected = param_fingerprint(config)
  if meta.get("fingerprint") != expected:
    raise ValueError(f"the checkpoint in {where} was made with another model/stream config: "
                     f"{meta.get('fingerprint')} (this config: {expected})")


def _maybe_initialize_distributed(train_cfg: config_lib.TrainConfig) -> None:
  if train_cfg.distributed and not jax.distributed.is_initialized():
    jax.distributed.initialize()  # Coordinator, process count and id from the environment.


class Trainer:
  """Trains `config`'s model on its data, checkpointing to `workdir/checkpoints`."""

  def __init__(self, config, workdir: str, *, mesh: jax.sharding.Mesh | None = None):
    """Builds (or resumes) the run; `mesh` defaults to `sharding.make_mesh(config)`."""
    self.train_cfg = config_lib.TrainConfig.from_config(config.train)
    _maybe_initialize_distributed(self.train_cfg)
    self.config, self.workdir = config, workdir
    self.spec = pipeline.DataSpec.from_config(config.data)
    n_proc = jax.process_count()
    if self.spec.batch_size % n_proc:
      raise ValueError(f"data.batch_size={self.spec.batch_size} must be a multiple of the "
                       f"process count {n_proc}")
    self.local_spec = dataclasses.replace(self.spec, batch_size=self.spec.batch_size // n_proc)
    self.program = program_lib.build_program(
        config, sharding.make_mesh(config) if mesh is None else mesh)
    self.state = self.program.state
    self.layout = self.program.layout
    self.positions_per_step = self.spec.batch_size * self.spec.n_ticks * self.layout.tick_len
    self._eval_key = jax.random.key(config.seed)
    self.train_iter = iter(pipeline.make_dataset(
        self.local_spec, self.layout, "train", process_index=jax.process_index(),
        process_count=n_proc))
    self.heldout_data = pipeline.make_dataset(
        self.local_spec, self.layout, "heldout", process_index=jax.process_index(),
        process_count=n_proc)
    self.checkpoints = checkpoints_lib.Checkpoints(
        os.path.join(workdir, CHECKPOINT_DIR), keep=self.train_cfg.checkpoint_keep,
        async_save=self.train_cfg.async_checkpoints)
    self.history: list[dict] = []
    self._restore()
    if jax.process_index() == 0:  # After the restore: a mismatched run keeps its own config.
      os.makedirs(workdir, exist_ok=True)
      with open(os.path.join(workdir, CONFIG_FILE), "w") as f:
        f.write(config.to_json(indent=2))

  @property
  def mesh(self) -> jax.sharding.Mesh:
    return self.program.mesh

  def _restore(self) -> None:
    restored = self.checkpoints.restore_latest(self.state, self.train_iter,
                                               check_meta=self._check_meta)
    if restored is not None:
      self.state, _ = restored
      logging.info("resumed from the checkpoint at step %d in %s", self.current_step,
                   self.checkpoints.directory)

  def _check_meta(self, meta: dict) -> None:
    check_fingerprint(meta, self.config, self.checkpoints.directory)

  @property
  def current_step(self) -> int:
    return int(self.state["step"])

  def params(self) -> dict:
    """The current float32 parameters (pure dict, as sharded on the mesh)."""
    return self.state["params"]

  def model(self) -> nnx.Module:
    """The model with the current parameters."""
    return self.program.model(self.state["params"])

  def _to_global(self, host_batch: dict) -> dict:
    """This process's part of a batch → global arrays sharded over the mesh."""
    return {k: jax.make_array_from_process_local_data(self.program.batch_sharding, np.asarray(v))
            for k, v in host_batch.items()}

  def step(self, host_batch: dict) -> dict[str, float]:
    """One training step on a batch (this process's part); returns host metrics.

    A non-finite loss or gradient norm rejects the step (params and optimizer
    state unchanged) with a warning.

    Raises:
      NonFiniteError: after `train.max_consecutive_nonfinite` rejected steps in a row.
    """
    batch = self._to_global(host_batch)
    with self.program.context():
      self.state, metrics = self.program.train_step(self.state, batch)
    metrics = {k: np.asarray(v).item() for k, v in jax.device_get(metrics).items()}
    if not metrics["finite"]:
      limit = self.train_cfg.max_consecutive_nonfinite
      logging.warning("step %d rejected: non-finite loss (total %s) or gradient norm (%s); "
                      "params and optimizer state unchanged; %d in a row (limit %d), %d in total",
                      self.current_step, metrics["loss/total"], metrics["grad_norm"],
                      metrics["consecutive_nonfinite"], limit, metrics["rejected"])
      if metrics["consecutive_nonfinite"] >= limit:
        raise NonFiniteError(
            f"training halted at step {self.current_step}: {limit} consecutive steps had a "
            f"non-finite loss or gradient (train.max_consecutive_nonfinite={limit}); the "
            f"last good parameters are in the latest checkpoint in {self.checkpoints.directory}")
    return metrics

  def evaluate(self, n_batches: int | None = None) -> dict[str, float]:
    """Losses and timing accuracy (see `evaluation`) on the first `n_batches`
    (default train.eval_batches) heldout batches: the same episodes at every call."""
    n_batches = n_batches or self.train_cfg.eval_batches
    iterator = iter(self.heldout_data)
    try:
      with self.program.context():
        sums = [self.program.eval_step(self.state["params"], self._to_global(next(iterator)),
                                       self._eval_key) for _ in range(n_batches)]
    finally:
      iterator.close()
    return evaluation.summarize(jax.device_get(sums))

  def save(self) -> None:
    """Checkpoints the state and data position at the current step (async if configured)."""
    if self.current_step in self.checkpoints.steps():
      return
    self.checkpoints.save(self.state, self.train_iter,
                          {"fingerprint": param_fingerprint(self.config)})

  def run(self, steps: int | None = None) -> list[dict]:
    """Trains until step `steps` (default train.steps); returns the logged history.

    Every `log_every` steps: losses, learning rate, grad norm, tokens/s (over
    the interval, compile time excluded after the first step) and the data
    wait to TensorBoard and the progress bar; every `eval_every` steps and at
    the end: heldout eval; every `checkpoint_every` steps and at the end: a
    checkpoint.
    """
    tc = self.train_cfg
    total = tc.steps if steps is None else steps
    writer = writer_lib.MetricWriter(self.workdir, total_steps=total, start_step=self.current_step)
    fresh_interval = lambda: {"steps": 0, "timed": 0, "seconds": 0.0, "data_s": 0.0}
    interval, compiling = fresh_interval(), True
    try:
      while self.current_step < total:
        start = time.perf_counter()
        host_batch = next(self.train_iter)
        data_s = time.perf_counter() - start
        metrics = self.step(host_batch)
        step_s = time.perf_counter() - start
        step = self.current_step
        interval["steps"] += 1
        interval["data_s"] += data_s
        if not compiling:  # The first step of a run compiles; it is left out of the timing.
          interval["timed"] += 1
          interval["seconds"] += step_s
        compiling = False
        if step % tc.log_every == 0 or step == total:
          mean_step_s = interval["seconds"] / interval["timed"] if interval["timed"] else step_s
          logged = dict(metrics, step_s=mean_step_s,
                        tokens_per_s=self.positions_per_step / mean_step_s,
                        data_wait_s=interval["data_s"] / interval["steps"])
          logged.pop("finite")
          writer.scalars(step, logged, prefix="train/")
          writer.progress(interval["steps"], loss=metrics["loss/total"],
                          tokens_per_s=logged["tokens_per_s"], step_s=mean_step_s)
          self.history.append(dict(logged, step=step))
          interval = fresh_interval()
        if tc.eval_every and (step % tc.eval_every == 0 or step == total):
          results = self.evaluate()
          writer.scalars(step, results, prefix="eval/")
          writer.message(f"step {step} eval: " + ", ".join(
              f"{k}={v:.4f}" for k, v in sorted(results.items())))
          self.history.append({f"eval/{k}": v for k, v in results.items()} | {"step": step})
        if step % tc.checkpoint_every == 0 or step == total:
          self.save()
    finally:
      writer.close()
    self.checkpoints.wait()
    return self.history

  def close(self) -> None:
    """Waits for pending checkpoint writes and releases the data iterator."""
    self.checkpoints.wait()
    self.checkpoints.close()
    self.train_iter.close()


def train(config, workdir: str) -> list[dict]:
  """Trains `config` to `train.steps` in `workdir` (resuming if it holds checkpoints)."""
  trainer = Trainer(config, workdir)
  try:
    return trainer.run()
  finally:
    trainer.close()
