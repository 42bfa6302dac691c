"""Encoder-free input embeddings: dMel audio, hMLP video stem, tokens, slot type and tick.

Every position of an episode becomes one `d_model` vector:
  content (by slot kind) + slot-type embedding + tick embedding.
Content: <tick>/text-in/bg-in/text-out slots embed their token id; user- and
self-audio slots embed their dMel codes (`DMelEmbed`), zeroed where absent;
video slots embed their 40×40 patch (`HMLPStem`), zeroed where absent;
audio-out slots have no content (their mel frames are the flow head's target,
so they enter the model only as the next tick's self audio).
Only gathers, exact adds and `pallas_kernels` calls, so a row's embedding does
not depend on the rest of the batch under impl="pallas".

Dtype: the embedding comes out in the parameters' dtype (float32, or bfloat16
when the trainer casts them for bf16 compute); the tick table and the video
pixels are made in float32 and rounded to it, which leaves float32 unchanged.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import pallas_kernels as pk
from data_pipelines import audio as audio_lib
from data_pipelines import text as text_lib
from data_pipelines import video as video_lib
from data_pipelines.stream import Slot
from data_pipelines.stream import TickLayout
from interaction import checks
from interaction import config as config_lib
from interaction import layers
from interaction import params
from interaction import sharded_kernels

HMLP_STRIDES = (10, 2, 2)  # Multiply to the 40-pixel patch.


class DMelEmbed(nnx.Module):
  """dMel codes `[..., frames, n_mels]` (ints in [0, 16)) → one token `[..., d_model]`.

  Each mel channel has its own table `[16, channel_dim]`; the looked-up vectors
  of all frames and channels are concatenated and projected by one matmul.
  """

  def __init__(self, frames: int, n_mels: int, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    self.frames, self.n_mels = frames, n_mels
    self.tables = params.param(  # [n_mels, bins, channel_dim]
        rngs, (n_mels, audio_lib.DMEL_BINS, cfg.dmel_channel_dim), ("table", None, None), scale=1.0)
    self.proj = layers.Linear(frames * n_mels * cfg.dmel_channel_dim, cfg.d_model,
                              ("features", "embed"), cfg, rngs=rngs)

  def __call__(self, codes: jax.Array) -> jax.Array:
    if tuple(codes.shape[-2:]) != (self.frames, self.n_mels):
      raise ValueError(f"dMel codes must end in [frames_per_audio_token={self.frames}, "
                       f"n_mels={self.n_mels}], got shape {tuple(codes.shape)}")
    checks.check_range("dMel codes", codes, 0, audio_lib.DMEL_BINS)
    channel = jnp.arange(self.n_mels)
    emb_fmc = self.tables[...][channel, codes]  # [..., frames, n_mels, channel_dim]
    return self.proj(emb_fmc.reshape(*codes.shape[:-2], -1))


class HMLPStem(nnx.Module):
  """uint8 patches `[..., 40, 40, 3]` → `[..., d_model]`: hierarchical MLP stem.

  Three non-overlapping conv stages with strides 10, 2, 2 (a stride-s conv with
  kernel s is a matmul over s×s sub-patches): 40×40 → 4×4 → 2×2 → 1×1, with
  RMSNorm + GELU after the first two stages (no BatchNorm: batch invariant).
  """

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    dims = (3, *cfg.hmlp_dims, cfg.d_model)
    self.stages = nnx.List([
        layers.Linear(s * s * d_in, d_out, ("features", "embed"), cfg, rngs=rngs, bias=True)
        for s, d_in, d_out in zip(HMLP_STRIDES, dims[:-1], dims[1:])])
    self.norms = nnx.List([layers.RMSNorm(d, cfg, rngs=rngs) for d in cfg.hmlp_dims])
    self.cfg = cfg

  def __call__(self, patches: jax.Array) -> jax.Array:
    size = video_lib.PATCH_SIZE
    if tuple(patches.shape[-3:]) != (size, size, 3):
      raise ValueError(f"video patches must end in [{size}, {size}, 3], got {tuple(patches.shape)}")
    if patches.dtype != jnp.uint8:
      raise ValueError(f"video patches must be uint8 RGB, got dtype {patches.dtype}")
    lead = patches.shape[:-3]
    x_nhwc = (patches.reshape(-1, size, size, 3).astype(jnp.float32) / 255.0 - 0.5).astype(
        self.stages[0].kernel[...].dtype)  # In the parameters' (compute) dtype.
    for i, stage in enumerate(self.stages):
      x_nhwc = stage(_space_to_depth(x_nhwc, HMLP_STRIDES[i]))
      if i < len(self.norms):
        x_nhwc = sharded_kernels.rowwise(pk.gelu, self.norms[i](x_nhwc), self.cfg.kernel_args)
    return x_nhwc.reshape(*lead, -1)  # the last stage leaves a 1×1 grid.


def _space_to_depth(x_nhwc: jax.Array, s: int) -> jax.Array:
  """`[n, h, w, c]` → `[n, h/s, w/s, s*s*c]` (each s×s block flattened)."""
  n, h, w, c = x_nhwc.shape
  x = x_nhwc.reshape(n, h // s, s, w // s, s, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(n, h // s, w // s, s * s * c)


def tick_table(max_ticks: int, dim: int) -> jax.Array:
  """`[max_ticks, dim]` fixed sinusoidal embedding of the tick number.

  Computed on the host in float64 and rounded to float32 (like the RoPE table),
  so no transcendental runs on the forward path.
  """
  inv_freq = 10000.0 ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
  angle = np.arange(max_ticks, dtype=np.float64)[:, None] * inv_freq[None, :]
  table = np.concatenate([np.sin(angle), np.cos(angle)], -1)[:, :dim]
  return jnp.asarray(table.astype(np.float32))


class EpisodeEmbedder(nnx.Module):
  """A `to_example` batch → `x [batch, n_ticks * tick_len, d_model]` over the static layout."""

  def __init__(self, layout: TickLayout, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    self.layout, self.cfg = layout, cfg
    self.tokens = params.param(rngs, (text_lib.VOCAB_SIZE, cfg.d_model), ("vocab", "embed"),
                               scale=1.0)  # [vocab, d_model]
    self.slot_types = params.param(rngs, (len(Slot), cfg.d_model), (None, "embed"),
                                   scale=1.0)  # [n_slot_kinds, d_model]
    self.audio = DMelEmbed(layout.frames_per_audio_token, layout.mel.n_mels, cfg, rngs=rngs)
    self.video = HMLPStem(cfg, rngs=rngs) if layout.n_video_tokens else None

  def __call__(self, batch: dict) -> jax.Array:
    """Embeds a batch of examples (see `data_pipelines.pipeline.to_example`).

    Reads tokens [B, L], present [B, L], user_audio / self_audio
    [B, n_ticks * n_audio_tokens, frames_per_audio_token, n_mels] and (when the
    layout has video) video [B, n_ticks * n_video_tokens, 40, 40, 3].
    Returns `[B, L, d_model]`; position p's vector has the same bits as
    `embed_ticks` gives it for its tick alone (under impl="pallas").

    Raises:
      ValueError: L not a multiple of tick_len, more ticks than max_ticks, a
        feature with the wrong shape, or token ids / dMel codes out of range.
    """
    layout = self.layout
    tokens_bl = jnp.asarray(batch["tokens"])
    if tokens_bl.ndim != 2:
      raise ValueError(f"tokens must have shape [batch, n_ticks * tick_len], got {tokens_bl.shape}")
    b, length = tokens_bl.shape
    n_ticks = layout.n_ticks(length)
    if n_ticks > self.cfg.max_ticks:
      raise ValueError(f"episode has {n_ticks} ticks; model.max_ticks is {self.cfg.max_ticks}")
    checks.check_shape("present", batch["present"], (b, length), "batch, n_ticks * tick_len")
    ticks = {"tokens": tokens_bl.reshape(b, n_ticks, layout.tick_len),
             "present": jnp.asarray(batch["present"]).reshape(b, n_ticks, layout.tick_len)}
    for kind, name in ((Slot.USER_AUDIO, "user_audio"), (Slot.SELF_AUDIO, "self_audio"),
                       (Slot.VIDEO, "video")):
      if layout.count(kind):
        values = jnp.asarray(batch[name])
        n = layout.count(kind)
        checks.check_shape(name, values, (b, n_ticks * n, *self._feature_shape(kind)),
                           f"batch, n_ticks * {n}, " + ", ".join(
                               str(s) for s in self._feature_shape(kind)))
        ticks[name] = values.reshape(b, n_ticks, n, *values.shape[2:])
    tick_bt = jnp.broadcast_to(jnp.arange(n_ticks, dtype=jnp.int32), (b, n_ticks))
    return self.embed_ticks(ticks, tick_bt).reshape(b, length, self.cfg.d_model)

  def _feature_shape(self, kind: Slot) -> tuple[int, ...]:
    if kind == Slot.VIDEO:
      return (video_lib.PATCH_SIZE, video_lib.PATCH_SIZE, 3)
    return (self.layout.frames_per_audio_token, self.layout.mel.n_mels)

  def embed_ticks(self, ticks: dict, tick_bt: jax.Array) -> jax.Array:
    """Whole ticks → `[B, T, tick_len, d_model]`.

    Args:
      ticks: "tokens", "present" [B, T, tick_len]; "user_audio", "self_audio"
        [B, T, n_audio_tokens, frames_per_audio_token, n_mels] and "video"
        [B, T, n_video_tokens, 40, 40, 3] for the slot kinds the layout has.
      tick_bt: int [B, T], the tick number of each tick (< max_ticks).
    """
    layout = self.layout
    tokens_btk = jnp.asarray(ticks["tokens"])
    checks.check_range("tokens", tokens_btk, 0, text_lib.VOCAB_SIZE)
    present_btk = jnp.asarray(ticks["present"])[..., None]
    token_btkd = sharded_kernels.gathered(self.tokens)[tokens_btk]

    def content(kind: Slot) -> jax.Array:  # [B, T, count(kind), d]
      span = layout.span(kind)
      if kind in (Slot.USER_AUDIO, Slot.SELF_AUDIO):
        emb = self.audio(jnp.asarray(ticks[kind.name.lower()]))
      elif kind == Slot.VIDEO:
        emb = self.video(jnp.asarray(ticks["video"]))
      elif kind == Slot.AUDIO_OUT:
        return jnp.zeros((*tokens_btk.shape[:2], layout.count(kind), self.cfg.d_model),
                         token_btkd.dtype)
      else:
        return token_btkd[:, :, span]
      return emb * present_btk[:, :, span]

    pieces = [content(kind) for kind in Slot if layout.count(kind)]
    return self.add_position(jnp.concatenate(pieces, axis=2),
                             jnp.asarray(layout.slot_kinds), tick_bt)

  def embed_tokens(self, tokens_bn: jax.Array, kind: Slot, tick_b: jax.Array) -> jax.Array:
    """`[B, N]` token ids in slots of `kind` of tick `tick_b` → `[B, N, d_model]`.

    The same bits as `embed_ticks` gives those positions: the sampler embeds
    its text-out tokens one at a time with it.
    """
    kinds_n = jnp.full(tokens_bn.shape[-1:], int(kind), jnp.int32)
    return self.add_position(self.tokens[...][tokens_bn][:, None], kinds_n, tick_b[:, None])[:, 0]

  def embed_empty(self, kind: Slot, n: int, tick_b: jax.Array) -> jax.Array:
    """`[B, n, d_model]`: slots of `kind` with no content (audio out) in tick `tick_b`."""
    zeros_b1nd = jnp.zeros((tick_b.shape[0], 1, n, self.cfg.d_model), self.tokens[...].dtype)
    return self.add_position(zeros_b1nd, jnp.full((n,), int(kind), jnp.int32),
                             tick_b[:, None])[:, 0]

  def add_position(self, content: jax.Array, kinds_k: jax.Array, tick: jax.Array) -> jax.Array:
    """`content [B, T, K, d] + slot_types[kinds_k] + tick_table[tick [B, T]]`, in that order.

    The float32 tick table is rounded to the content's dtype (a no-op for float32).
    """
    x = content + sharded_kernels.gathered(self.slot_types)[kinds_k]
    table = tick_table(self.cfg.max_ticks, self.cfg.d_model).astype(x.dtype)
    return x + table[tick][..., None, :]
