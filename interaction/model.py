"""The interaction model and its training forward over whole episodes.

Alignment over the static tick layout (teacher forcing, causal):
* Text out: the token in text-out slot i of tick t (position p) is predicted
  by the hidden state at position p - 1: slot i - 1's state for i > 0, and for
  i = 0 the last input slot of the tick (bg in, or whatever precedes text out).
  That is next-token prediction restricted to text-out targets, so the
  sampler decodes text out autoregressively after prefilling the tick's input.
* Audio out: slot j of tick t is conditioned on the hidden state *at* that
  audio-out position. Audio-out slots carry no content (only slot-type and
  tick embeddings), so that state has seen the tick's inputs, all of its text
  out and the earlier audio-out slots' positions, but never the mel frames
  being predicted. The flow head maps it to the slot's
  `frames_per_audio_token × n_mels` log-mel values, normalized from the dMel
  range [-7, 2] to about [-1, 1].
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import pallas_kernels as pk
from data_pipelines import audio as audio_lib
from data_pipelines.stream import Slot
from data_pipelines.stream import TickLayout
from interaction import checks
from interaction import config as config_lib
from interaction import decoder
from interaction import embed
from interaction import flow
from interaction import text_head
from interaction import text_loss

MEL_CENTER = (audio_lib.DMEL_MAX + audio_lib.DMEL_MIN) / 2
MEL_HALF_RANGE = (audio_lib.DMEL_MAX - audio_lib.DMEL_MIN) / 2


def slot_positions(layout: TickLayout, n_ticks: int, kind: Slot) -> np.ndarray:
  """int `[n_ticks * count(kind)]`: absolute positions of every `kind` slot, in time order."""
  ticks = np.arange(n_ticks)[:, None] * layout.tick_len
  return (ticks + np.arange(layout.span(kind).start, layout.span(kind).stop)[None]).reshape(-1)


@functools.lru_cache(maxsize=4)
def _rope_table_np(n_positions: int, head_dim: int, base: float) -> np.ndarray:
  with jax.ensure_compile_time_eval():  # Concrete even when first asked for inside a trace.
    return np.asarray(pk.rope_table(n_positions, head_dim, base=base))


class InteractionModel(nnx.Module):
  """Embeddings → shared decoder → text head and flow head."""

  def __init__(self, layout: TickLayout, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    if layout.offset(Slot.TEXT_OUT) == 0:
      raise ValueError("text out must not open the tick (nothing would predict its first slot)")
    self.layout, self.cfg = layout, cfg
    self.embed = embed.EpisodeEmbedder(layout, cfg, rngs=rngs)
    self.decoder = decoder.Decoder(cfg, rngs=rngs)
    self.text_head = text_head.TextHead(cfg, rngs=rngs)
    self.flow_head = flow.FlowHead(layout.frames_per_audio_token * layout.mel.n_mels,
                                   cfg.d_model, cfg, rngs=rngs)

  @classmethod
  def from_config(cls, config) -> "InteractionModel":
    """Unsharded, freshly initialized from an experiment config (stream, model, seed)."""
    layout = TickLayout.from_config(config.stream)
    cfg = config_lib.ModelConfig.from_config(config.model)
    with nnx.use_eager_sharding(False):
      return cls(layout, cfg, rngs=nnx.Rngs(config.seed))

  @property
  def max_positions(self) -> int:
    """Positions the model can address: `max_ticks × tick_len`."""
    return self.cfg.max_ticks * self.layout.tick_len

  def rope_table(self) -> jax.Array:
    """The one RoPE table (all `max_positions`) the trainer and the sampler both read."""
    return jnp.asarray(_rope_table_np(self.max_positions, self.cfg.head_dim, self.cfg.rope_base))

  def hidden(self, batch: dict) -> tuple[jax.Array, dict[str, jax.Array]]:
    """`h [B, L, d_model]` after the final norm, and the MoE aux losses."""
    return self.decoder(self.embed(batch), self.rope_table())

  def __call__(self, batch: dict, key: jax.Array) -> tuple[dict[str, jax.Array], jax.Array]:
    """Training forward over whole episodes.

    Args:
      batch: a batch of `pipeline.to_example` dicts ([B, ...] arrays).
      key: randomness of the flow loss (noise and times).

    Returns:
      losses: "text" (mean CE over text-loss-masked text-out slots, the
        speak/silence decision included), "text_weighted" (the same sum with
        `text_loss.text_loss_weights` per slot, over the same count; equal to
        "text" when both weights are 1), "flow" (rectified-flow MSE over
        audio-out slots where the model speaks), "load_balance" and
        "router_z" (MoE only, averaged over layers) and "total" (weighted sum,
        with "text_weighted" as its text term).
      text_logprobs: float32 [B, L], log p(target) at each text-out position,
        0 elsewhere.

    Activations follow the parameters' dtype (bfloat16 compute when the trainer
    casts them). The text log-softmax, the text and flow losses with their
    reductions, and the returned losses and log-probs are float32 either way;
    the MoE aux losses are computed in the compute dtype by `moe.py` (its
    softmax kernels run float32 inside) and returned as float32.
    """
    layout = self.layout
    b, length = np.shape(batch["tokens"])
    n_ticks = layout.n_ticks(length)
    for name in ("text_targets", "text_loss_mask", "flow_loss_mask"):
      checks.check_shape(name, batch[name], (b, length), "batch, n_ticks * tick_len")
    audio_pos = slot_positions(layout, n_ticks, Slot.AUDIO_OUT)
    frames = (b, len(audio_pos), layout.frames_per_audio_token, layout.mel.n_mels)
    checks.check_shape("audio_out", batch["audio_out"], frames,
                       "batch, n_ticks * n_audio_tokens, frames_per_audio_token, n_mels")
    h_bld, aux = self.hidden(batch)
    text_pos = slot_positions(layout, n_ticks, Slot.TEXT_OUT)
    targets_bn = jnp.asarray(batch["text_targets"])[:, text_pos]
    logp_bnv = self.text_head(h_bld[:, text_pos - 1])
    target_logp_bn = jnp.take_along_axis(logp_bnv, targets_bn[..., None], axis=-1)[..., 0]
    text_mask_bn = jnp.asarray(batch["text_loss_mask"])[:, text_pos].astype(jnp.float32)
    n_text_slots = jnp.maximum(jnp.sum(text_mask_bn), 1.0)
    weights_bn = text_loss.text_loss_weights(
        targets_bn.reshape(b, n_ticks, -1), self.cfg.onset_loss_weight,
        self.cfg.content_loss_weight).reshape(b, -1)
    losses = {"text": -jnp.sum(target_logp_bn * text_mask_bn) / n_text_slots,
              "text_weighted": -jnp.sum(target_logp_bn * weights_bn * text_mask_bn)
                               / n_text_slots}
    text_logprobs_bl = jnp.zeros((b, length), jnp.float32).at[:, text_pos].set(
        target_logp_bn * text_mask_bn)

    mel_x1 = (jnp.asarray(batch["audio_out"]).reshape(b * len(audio_pos), -1)
              - MEL_CENTER) / MEL_HALF_RANGE
    cond = h_bld[:, audio_pos].reshape(b * len(audio_pos), -1)
    flow_mask = jnp.asarray(batch["flow_loss_mask"])[:, audio_pos].reshape(-1)
    losses["flow"] = self.flow_head.loss(cond, mel_x1, flow_mask, key)
    losses.update({name: value.astype(jnp.float32) for name, value in aux.items()})
    cfg = self.cfg
    losses["total"] = (losses["text_weighted"] + cfg.flow_loss_weight * losses["flow"]
                       + cfg.load_balance_weight * losses.get("load_balance", 0.0)
                       + cfg.router_z_weight * losses.get("router_z", 0.0))
    return losses, text_logprobs_bl

  def sample_audio(self, h_nd: jax.Array, noise_no: jax.Array, n_steps: int) -> jax.Array:
    """Log-mel frames `[N, frames_per_audio_token, n_mels]` for audio-out hidden states.

    noise_no: `[N, frames_per_audio_token * n_mels]` standard-normal flow noise.
    """
    mel = self.flow_head.integrate(h_nd, noise_no, n_steps) * MEL_HALF_RANGE + MEL_CENTER
    return mel.reshape(h_nd.shape[0], self.layout.frames_per_audio_token, self.layout.mel.n_mels)
