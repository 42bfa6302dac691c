"""The trainer's view of finished sessions: log-probs of the generated tokens.

`trainer_logprobs` runs the training forward (teacher forcing over the whole
episode, `InteractionModel.__call__`) on what a session heard and said. Under
impl="pallas" it equals, bit for bit, the log-probs the sampler returned tick
by tick (`FinishedSession.logprobs`): the on-policy property RL relies on.
"""

from collections.abc import Sequence
import dataclasses

from flax import nnx
import jax
import numpy as np

from data_pipelines import pipeline
from data_pipelines import stream
from interaction import model as model_lib
from interaction import sessions


@nnx.jit
def _text_logprobs(model: model_lib.InteractionModel, batch: dict) -> jax.Array:
  # The key only draws the flow loss's noise; the text log-probs do not use it.
  return model(batch, jax.random.key(0))[1]


def trainer_logprobs(model: model_lib.InteractionModel,
                     records: Sequence[sessions.FinishedSession]) -> list[np.ndarray]:
  """float32 [n_ticks × tick_len] per session: the training forward's log-prob
  of each generated text-out token (0 at other positions).

  All sessions are scored in one batch, shorter ones padded at the end with
  empty ticks. The forward is causal and, under impl="pallas", a position's
  bits do not depend on later positions or other rows, so the padding changes
  nothing there; under impl="xla" it may move the last bits.
  """
  if not records:
    raise ValueError("no sessions to score")
  for record in records:
    if record.ticks is None:
      raise ValueError(f"session {record.session_id} ran no tick; there is nothing to score")
  layout = records[0].layout
  n_ticks = max(r.n_ticks for r in records)
  blank = layout.pack(stream.TickInputs())

  def padded(ticks: stream.PackedTicks, n_pad: int) -> stream.PackedTicks:
    return stream.PackedTicks(**{
        f.name: np.concatenate([getattr(ticks, f.name),
                                np.repeat(getattr(blank, f.name)[None], n_pad, axis=0)])
        for f in dataclasses.fields(stream.PackedTicks)})

  examples = [pipeline.ticks_to_example(layout, padded(r.ticks, n_ticks - r.n_ticks))
              for r in records]
  batch = {k: np.stack([ex[k] for ex in examples]) for k in examples[0]}
  logp = np.asarray(_text_logprobs(model, batch))
  return [logp[i, :r.n_ticks * layout.tick_len] for i, r in enumerate(records)]
