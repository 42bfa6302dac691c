"""Orbax checkpoints of the train state and the grain iterator, with fallback past corrupt ones.

A checkpoint at step s holds five items:
  params, opt_state   the train state's arrays (StandardSave; restored onto
                      whatever shardings the caller's target has, so a
                      checkpoint restores onto a different mesh)
  counters            step, rng key data and the non-finite counters
  meta                JSON: step and the model/stream config it was made with
  data_iter           the grain iterator state (one file per process)
Saving is asynchronous when asked (training continues while orbax writes the
arrays; grain's handler is synchronous, so orbax writes the iterator position
inside `save`, before the next batch is drawn);
orbax writes each step to a temporary directory and renames it when complete,
so a save cut short by a crash is never listed as a step.
"""

import logging
import os

import grain
import jax
import orbax.checkpoint as ocp

from interaction.training.step import COUNTERS



class NoUsableCheckpointError(RuntimeError):
  """Every checkpoint in the directory failed to restore."""


def abstract_like(tree):
  """ShapeDtypeStructs (with shardings) of `tree`'s arrays: a restore target."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)


class Checkpoints:
  """A `CheckpointManager` over `directory` for the trainer's state."""

  def __init__(self, directory: str, *, keep: int = 3, async_save: bool = True):
    self.directory = os.path.abspath(directory)
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                           enable_async_checkpointing=async_save)
    self.manager = ocp.CheckpointManager(self.directory, options=options)

  def steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def save(self, state: dict, data_iter, meta: dict) -> None:
    """Saves at `state["step"]` (returns once arrays are copied when saving asynchronously)."""
    step = int(state["step"])
    args = ocp.args.Composite(
        params=ocp.args.StandardSave(state["params"]),
        opt_state=ocp.args.StandardSave(state["opt_state"]),
        counters=ocp.args.StandardSave({k: state[k] for k in COUNTERS}),
        meta=ocp.args.JsonSave(dict(meta, step=step)),
        data_iter=grain.checkpoint.CheckpointSave(data_iter))
    self.manager.save(step, args=args)

  def _newest_restorable(self, items: dict, check_meta, steps: list[int] | None = None):
    """(step, restored items) of the newest of `steps` (default all) whose `items` restore.

    A checkpoint that fails to restore (missing or truncated files, a partial
    write) is skipped with a warning naming it, and the one before it is
    tried. `check_meta` sees each readable checkpoint's meta first and raises
    (ValueError) when the checkpoint belongs to another config; that error is
    not skipped. Returns None when there are no checkpoints.

    Raises:
      NoUsableCheckpointError: checkpoints exist but none restores.
    """
    steps = self.steps() if steps is None else steps
    for step in reversed(steps):
      meta = self.read_meta(step)
      if meta is not None:
        check_meta(meta)
      try:
        restored = self.manager.restore(step, args=ocp.args.Composite(
            meta=ocp.args.JsonRestore(), **items))
      except Exception as error:  # pylint: disable=broad-except  (any failure means unusable)
        logging.warning("checkpoint at step %d in %s is corrupt or partial and was skipped "
                        "(%s: %s); trying the previous one", step, self.directory,
                        type(error).__name__, str(error)[:500])
        continue
      return step, restored
    if steps:
      raise NoUsableCheckpointError(f"none of the checkpoints {steps} in {self.directory} "
                                    "could be restored (see the warnings above)")
    return None

  def restore_latest(self, state: dict, data_iter,
                     check_meta=lambda meta: None) -> tuple[dict, dict] | None:
    """(state, meta) from the newest checkpoint that restores, or None if there is none.

    `state` gives the target structure and shardings (its values are not
    used); `data_iter` is set to the saved iterator position. Corrupt or
    partial checkpoints are skipped as in `_newest_restorable`.
    """
    found = self._newest_restorable(dict(
        params=ocp.args.StandardRestore(abstract_like(state["params"])),
        opt_state=ocp.args.StandardRestore(abstract_like(state["opt_state"])),
        counters=ocp.args.StandardRestore(abstract_like({k: state[k] for k in COUNTERS})),
        data_iter=grain.checkpoint.CheckpointRestore(data_iter)), check_meta)
    if found is None:
      return None
    _, restored = found
    new_state = dict(restored["counters"], params=restored["params"],
                     opt_state=restored["opt_state"])
    return new_state, dict(restored["meta"])

  def restore_params(self, abstract_params, check_meta=lambda meta: None,
                     step: int | None = None) -> tuple[int, dict]:
    """(step, params) of the newest checkpoint (or of `step`) onto `abstract_params`.

    Corrupt or partial checkpoints are skipped as in `_newest_restorable`.

    Raises:
      FileNotFoundError: there is no checkpoint (or no checkpoint `step`).
      NoUsableCheckpointError: none restores.
    """
    steps = self.steps()
    if step is not None:
      steps = [s for s in steps if s == step]
    found = self._newest_restorable(
        dict(params=ocp.args.StandardRestore(abstract_params)), check_meta, steps)
    if found is None:
      raise FileNotFoundError(f"no checkpoint{'' if step is None else f' at step {step}'} "
                              f"in {self.directory}")
    chosen, restored = found
    return chosen, restored["params"]

  def read_meta(self, step: int) -> dict | None:
    """Checkpoint `step`'s meta, or None when it cannot be read."""
    try:
      return dict(self.manager.restore(step, args=ocp.args.Composite(
          meta=ocp.args.JsonRestore()))["meta"])
    except Exception:  # pylint: disable=broad-except  (unreadable: the full restore will say why)
      return None

  def wait(self) -> None:
    """Blocks until any asynchronous save has finished writing."""
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.close()
