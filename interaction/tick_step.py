"""One compiled step that advances a batch of streaming sessions by one tick.

State (`SessionState`) has static shapes: one KV-cache row per session slot of
the engine, with a capacity of `capacity_ticks × tick_len` positions. Each
row's tick (hence its positions) comes with the batch from the host, which
owns the rest of a session's identity (seed, id). A step, for every row at
once, in the training layout's order:

1. embeds the tick's input slots and prefills them (one chunk of `input_len`);
2. decodes the text-out slots one by one: the state at the previous position
   gives log-probs, the sampler picks a token (or `<silence>`/`<pad>` where
   speech is not allowed), and the token is embedded and appended;
3. appends the tick's audio-out slots (they carry no content) in one chunk and
   samples their mel frames from the flow head with the row's noise.

Rows whose `active` flag is False are computed (at tick 0) but their cache does
not change. Under impl="pallas" every op is row-wise or cache
invariant, so a row's outputs do not depend on the other rows, and they have
the bits the training forward gives the finished episode.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from data_pipelines import text as text_lib
from data_pipelines.stream import Slot
from interaction import kv_cache
from interaction import model as model_lib
from interaction import sampler

# Text-out tokens after which the model is silent during the next tick.
NOT_SPEECH = (text_lib.SILENCE, text_lib.DELEGATE)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SessionState:
  """caches: one `LayerCache` per decoder layer, a row per session slot."""
  caches: tuple[kv_cache.LayerCache, ...]

  @classmethod
  def zeros(cls, model: model_lib.InteractionModel, rows: int, capacity_ticks: int,
            dtype=jnp.float32) -> "SessionState":
    cfg = model.cfg
    capacity = capacity_ticks * model.layout.tick_len
    return cls(caches=tuple(
        kv_cache.LayerCache.zeros(rows, capacity, cfg.n_kv_heads, cfg.head_dim, dtype)
        for _ in range(cfg.n_layers)))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TickBatch:
  """One tick of input for every row, and how each row samples.

  tokens, present: [rows, tick_len] (the output part is ignored);
  user_audio, self_audio: int32 [rows, n_audio_tokens, frames_per_audio_token, n_mels];
  video: uint8 [rows, n_video_tokens, 40, 40, 3];
  tick: int32 [rows], each row's tick; active, allow_speech: bool [rows];
  temperature: float32 [rows]; top_k: int32 [rows];
  uniform: float32 [rows, text_out_tokens]; noise: float32 [rows, n_audio_tokens, out_dim].
  """
  tokens: jax.Array
  present: jax.Array
  user_audio: jax.Array
  self_audio: jax.Array
  video: jax.Array
  tick: jax.Array
  active: jax.Array
  allow_speech: jax.Array
  temperature: jax.Array
  top_k: jax.Array
  uniform: jax.Array
  noise: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TickOut:
  """text: int32 [rows, text_out_tokens]; logprobs: float32, same shape;
  mel: float32 [rows, n_audio_tokens, frames_per_audio_token, n_mels];
  speaks: bool [rows], whether the mel is spoken (heard during the next tick)."""
  text: jax.Array
  logprobs: jax.Array
  mel: jax.Array
  speaks: jax.Array


def tick_step(model: model_lib.InteractionModel, state: SessionState, batch: TickBatch, *,
              flow_steps: int) -> tuple[SessionState, TickOut]:
  """Advances every active row by one tick (see the module docstring)."""
  layout, cfg = model.layout, model.cfg
  n_in, n_text = layout.input_len, layout.count(Slot.TEXT_OUT)
  n_audio = layout.count(Slot.AUDIO_OUT)
  rope = model.rope_table()
  active_b = batch.active
  tick_b = jnp.where(active_b, batch.tick, 0)  # Inactive rows compute a throwaway tick 0.
  start_b = tick_b * layout.tick_len

  ticks = {"tokens": batch.tokens[:, None], "present": batch.present[:, None],
           "user_audio": batch.user_audio[:, None], "self_audio": batch.self_audio[:, None],
           "video": batch.video[:, None]}
  x_bkd = model.embed.embed_ticks(ticks, tick_b[:, None])[:, 0, :n_in]
  h_bkd, caches = model.decoder.extend(x_bkd, rope, state.caches, start_b, active_b)

  def decode_text(i, carry):
    h_bd, caches, text_bn, logp_bn = carry
    logp_bv = model.text_head(h_bd)
    token_b = sampler.choose_tokens(logp_bv, batch.temperature, batch.top_k,
                                    batch.uniform[:, i], cfg.kernel_args)
    quiet_b = jnp.where(i == 0, text_lib.SILENCE, text_lib.PAD).astype(jnp.int32)
    token_b = jnp.where(batch.allow_speech, token_b, quiet_b)
    chosen_logp_b = jnp.take_along_axis(logp_bv, token_b[:, None], axis=-1)[:, 0]
    x_b1d = model.embed.embed_tokens(token_b[:, None], Slot.TEXT_OUT, tick_b)
    h_b1d, caches = model.decoder.extend(x_b1d, rope, caches, start_b + n_in + i, active_b)
    return (h_b1d[:, 0], caches, text_bn.at[:, i].set(token_b),
            logp_bn.at[:, i].set(chosen_logp_b))

  b = batch.tokens.shape[0]
  carry = (h_bkd[:, -1], caches, jnp.zeros((b, n_text), jnp.int32),
           jnp.zeros((b, n_text), jnp.float32))
  _, caches, text_bn, logp_bn = jax.lax.fori_loop(0, n_text, decode_text, carry)

  mel = jnp.zeros((b, 0, layout.frames_per_audio_token, layout.mel.n_mels), jnp.float32)
  if n_audio:
    x_bad = model.embed.embed_empty(Slot.AUDIO_OUT, n_audio, tick_b)
    h_bad, caches = model.decoder.extend(x_bad, rope, caches, start_b + n_in + n_text, active_b)
    mel = model.sample_audio(h_bad.reshape(b * n_audio, -1),
                             batch.noise.reshape(b * n_audio, -1), flow_steps)
    mel = mel.reshape(b, n_audio, *mel.shape[1:])
  speaks_b = batch.allow_speech & ~jnp.isin(text_bn[:, 0], jnp.asarray(NOT_SPEECH))
  return SessionState(caches=caches), TickOut(text=text_bn, logprobs=logp_bn, mel=mel, speaks=speaks_b)


def _step(graphdef, params, state, batch, flow_steps):
  return tick_step(nnx.merge(graphdef, params), state, batch, flow_steps=flow_steps)


# One compiled step per (model graph, flow steps, shapes), shared by every engine.
_jit_step = jax.jit(_step, static_argnums=(0, 4), donate_argnums=(2,))


class TickStepper:
  """`tick_step` of one model, compiled once per row count and capacity.

  Holds the model's graph and parameters split apart so each call is a plain
  `jax.jit` call (no module traversal on the hot path); the state is donated.
  """

  def __init__(self, model: model_lib.InteractionModel, *, flow_steps: int):
    self.graphdef, self.params = nnx.split(model)
    self.flow_steps = flow_steps

  def __call__(self, state: SessionState, batch: TickBatch) -> tuple[SessionState, TickOut]:
    return _jit_step(self.graphdef, self.params, state, batch, self.flow_steps)
