"""Per-slot weights of the text loss: the rare decisions count more than the filler.

Most text-out targets are filler: a silent tick is `<silence>` then `<pad>`s,
and a speaking tick pads the bytes of its words to the slot count. Under a
plain mean over slots the two things an interaction model must learn, *when*
to start speaking and *what* to say, are a few percent of the loss. Two
weights (from the model config) shift the balance:

  onset_loss_weight    the first text-out slot (the speak/silence decision) of
                       a tick whose target speaks after a silent tick (or at
                       tick 0): the decision to start talking.
  content_loss_weight  every other slot whose target carries content (a byte or
                       a control token other than `<silence>` and `<pad>`), and
                       the decision slot of every other speaking tick, where a
                       `<pad>` means "keep talking, no new word": weighing it
                       like the bytes keeps the model from restarting a word
                       it is still saying.

Every other slot (`<silence>`, and `<pad>` after the decision slot) weighs 1.
With both weights 1 the loss is the plain mean.
"""

import jax
import jax.numpy as jnp

from data_pipelines import text


def onset_ticks(targets_btn: jax.Array) -> jax.Array:
  """bool [B, T]: ticks whose target speaks after a silent tick (tick 0 follows silence).

  targets_btn: int [B, T, text_out_tokens], the text-out targets per tick.
  """
  silent_bt = targets_btn[..., 0] == text.SILENCE
  before_bt = jnp.concatenate([jnp.ones_like(silent_bt[:, :1]), silent_bt[:, :-1]], axis=1)
  return ~silent_bt & before_bt


def text_loss_weights(targets_btn: jax.Array, onset_weight: float,
                      content_weight: float) -> jax.Array:
  """float32 [B, T, text_out_tokens]: the weight of each text-out target (see the module doc)."""
  content = (targets_btn != text.SILENCE) & (targets_btn != text.PAD)
  content = content.at[..., 0].set(targets_btn[..., 0] != text.SILENCE)  # Speaking ticks.
  weights = jnp.where(content, jnp.float32(content_weight), jnp.float32(1.0))
  onset_bt = onset_ticks(targets_btn)
  return weights.at[..., 0].set(jnp.where(onset_bt, jnp.float32(onset_weight), weights[..., 0]))
