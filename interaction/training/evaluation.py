"""Heldout evaluation: the training losses and speak/silence timing accuracy.

Timing accuracy (teacher forced). In every tick the first text-out slot holds
the model's speak/silence decision: <silence> when the model stays quiet that
tick, anything else (a byte, <pad>, <delegate>) when it speaks. For each tick of
each heldout episode we take the argmax of the text head at the position that
predicts that slot (with the true history as input) and count the tick correct
when argmax and target agree on "<silence>" vs "not <silence>". Reported:
  timing_accuracy  correct ticks / ticks
  speak_recall     ticks where the target speaks and the argmax does too / speaking ticks
  silence_recall   the same for silent ticks
  silence_share    silent ticks / ticks (the accuracy of always staying silent)
  onset_recall     the same as speak_recall over onset ticks only (the target
                   starts speaking after a silent tick, `text_loss.onset_ticks`).
                   Speaking ticks are mostly continuations, which the true
                   history makes easy, so speak_recall can be high while the
                   model never starts talking on its own; this is the number
                   that tells.
"""

from flax import nnx
import jax.numpy as jnp
import numpy as np

from data_pipelines import text
from data_pipelines.stream import Slot
from interaction import model as model_lib
from interaction import text_loss
from interaction.training import step as step_lib


def decision_positions(layout, n_ticks: int) -> np.ndarray:
  """int [n_ticks]: the position of each tick's first text-out slot."""
  return model_lib.slot_positions(layout, n_ticks, Slot.TEXT_OUT).reshape(n_ticks, -1)[:, 0]


def make_eval_step(graphdef: nnx.GraphDef, compute_dtype=jnp.float32):
  """`(params, batch, key) -> sums`: loss sums and timing counts over one batch.

  The model runs on the parameters rounded to `compute_dtype`, as in training.
  """
  loss_fn = step_lib.make_loss_fn(graphdef, compute_dtype)

  def eval_step(params, batch, key):
    params = step_lib.cast_floating(params, compute_dtype)
    _, losses = loss_fn(params, batch, key)
    model = nnx.merge(graphdef, params)
    n_ticks = model.layout.n_ticks(batch["tokens"].shape[1])
    pos = decision_positions(model.layout, n_ticks)
    h_bld, _ = model.hidden(batch)
    predicted_bt = jnp.argmax(model.text_head(h_bld[:, pos - 1]), axis=-1)
    target_bt = batch["text_targets"][:, pos]
    onset_bt = text_loss.onset_ticks(target_bt[..., None])
    mask_bt = batch["text_loss_mask"][:, pos]
    pred_silent, target_silent = predicted_bt == text.SILENCE, target_bt == text.SILENCE
    count = lambda x: jnp.sum(x & mask_bt).astype(jnp.float32)
    sums = {f"loss/{name}": value for name, value in losses.items()}
    sums.update(ticks=count(jnp.ones_like(mask_bt)), correct=count(pred_silent == target_silent),
                silent=count(target_silent), silent_hit=count(target_silent & pred_silent),
                speak_hit=count(~target_silent & ~pred_silent), onsets=count(onset_bt),
                onset_hit=count(onset_bt & ~pred_silent))
    return sums

  return eval_step


def summarize(per_batch: list[dict]) -> dict[str, float]:
  """Mean losses over batches and the timing ratios over all ticks."""
  if not per_batch:
    raise ValueError("no eval batches to summarize")
  total = {k: float(sum(np.asarray(b[k]) for b in per_batch)) for k in per_batch[0]}
  out = {k: v / len(per_batch) for k, v in total.items() if k.startswith("loss/")}
  ticks, silent = total["ticks"], total["silent"]
  out["timing_accuracy"] = total["correct"] / max(ticks, 1.0)
  out["silence_share"] = silent / max(ticks, 1.0)
  out["silence_recall"] = total["silent_hit"] / max(silent, 1.0)
  out["speak_recall"] = total["speak_hit"] / max(ticks - silent, 1.0)
  out["onset_recall"] = total["onset_hit"] / max(total["onsets"], 1.0)
  return out
