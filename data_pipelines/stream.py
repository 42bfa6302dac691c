"""The micro-turn stream format: the static slot layout of a tick, and packing.

Time is cut into ticks of `tick_ms` (200 ms). Every tick has the same layout of
token positions ("slots"), in this order:

    [TICK][user audio][self audio][video][text in][bg in] | [text out][audio out]
     ─────────────── input part (one prefill) ─────────── | ── output (decode) ──

An episode of N ticks is exactly N × tick_len positions; position p belongs to
tick p // tick_len. Audio slots hold dMel codes of `frames_per_audio_token`
mel frames each (8 frames per 200 ms tick by default); the self-audio slots of
tick t hold what the model played during tick t, i.e. its audio out of tick
t - 1. Video slots hold the 40×40 patches of the tick's camera frame. Text and
background slots hold byte tokens (data_pipelines.text), right-padded with <pad>.

`PackedTicks` holds packed arrays with any leading shape: () for one tick,
[n_ticks] for an episode, [batch, n_ticks] for a batch of episodes.
"""

from collections.abc import Sequence
import dataclasses
import enum
import functools

import numpy as np

from data_pipelines import audio as audio_lib
from data_pipelines import text as text_lib
from data_pipelines import video as video_lib


class Slot(enum.IntEnum):
  """Kinds of token positions in a tick, in layout order."""
  TICK = 0
  USER_AUDIO = 1
  SELF_AUDIO = 2
  VIDEO = 3
  TEXT_IN = 4
  BG_IN = 5
  TEXT_OUT = 6
  AUDIO_OUT = 7


INPUT_SLOTS = (Slot.TICK, Slot.USER_AUDIO, Slot.SELF_AUDIO, Slot.VIDEO, Slot.TEXT_IN, Slot.BG_IN)
OUTPUT_SLOTS = (Slot.TEXT_OUT, Slot.AUDIO_OUT)
_TOKEN_SLOTS = (Slot.TEXT_IN, Slot.BG_IN, Slot.TEXT_OUT)


@dataclasses.dataclass(frozen=True)
class TickInputs:
  """What reaches the model from the world during one tick (all optional).

  user_audio, self_audio: int dMel codes `[frames_per_tick, n_mels]`, or None
    when there is no audio (the slots are then marked absent).
  video: uint8 camera frame `[video_height, video_width, 3]`, or None.
  text_in, bg_in: token ids, at most as many as the layout has slots.
  """
  user_audio: np.ndarray | None = None
  self_audio: np.ndarray | None = None
  video: np.ndarray | None = None
  text_in: Sequence[int] = ()
  bg_in: Sequence[int] = ()


@dataclasses.dataclass(frozen=True)
class TickOutputs:
  """What the model emits in one tick.

  text_out: token ids (words, <silence>, <delegate>, ...), at most
    `text_out_tokens`; the rest of the slots are <pad>.
  audio_out: float32 log10 mel `[frames_per_tick, n_mels]` the model speaks
    during the next tick, or None when it is silent.
  """
  text_out: Sequence[int] = ()
  audio_out: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class PackedTicks:
  """Packed ticks as arrays; `...` is any leading shape (tick, episode, batch).

  tokens:     int32  [..., tick_len]  token id at every position: <tick> for the
              marker, bytes/specials for text slots, <pad> elsewhere.
  present:    bool   [..., tick_len]  the position carries content (a real
              token, audio that was heard or spoken, a camera frame).
  user_audio: int32  [..., n_audio_tokens, frames_per_audio_token, n_mels]
  self_audio: int32  [..., n_audio_tokens, frames_per_audio_token, n_mels]
  video:      uint8  [..., n_video_tokens, 40, 40, 3]
  audio_out:  float32 [..., n_audio_tokens, frames_per_audio_token, n_mels]
  """
  tokens: np.ndarray
  present: np.ndarray
  user_audio: np.ndarray
  self_audio: np.ndarray
  video: np.ndarray
  audio_out: np.ndarray

  @property
  def leading_shape(self) -> tuple[int, ...]:
    return self.tokens.shape[:-1]

  @classmethod
  def stack(cls, ticks: Sequence["PackedTicks"]) -> "PackedTicks":
    """Stacks along a new leading axis (ticks → episode, episodes → batch)."""
    if not ticks:
      raise ValueError("cannot stack an empty sequence of packed ticks")
    return cls(**{f.name: np.stack([getattr(t, f.name) for t in ticks])
                  for f in dataclasses.fields(cls)})

  def flat_tokens(self) -> np.ndarray:
    """int32 `[..., n_ticks * tick_len]`: an episode's tokens as one sequence."""
    return self.tokens.reshape(*self.tokens.shape[:-2], -1)


@dataclasses.dataclass(frozen=True)
class TickLayout:
  """The static per-tick slot layout, built from config.

  Attributes:
    tick_ms: tick duration; must be a whole number of mel hops.
    frames_per_audio_token: mel frames stacked into one audio token; must
      divide the frames of a tick.
    video_height, video_width: pixels of the one camera frame per tick, both
      multiples of 40; (0, 0) means no video slots.
    text_in_tokens, bg_in_tokens, text_out_tokens: byte-token slots per tick.
    mel: the audio front end's parameters.
  """
  tick_ms: int = 200
  frames_per_audio_token: int = 1
  video_height: int = 0
  video_width: int = 0
  text_in_tokens: int = 8
  bg_in_tokens: int = 8
  text_out_tokens: int = 4
  mel: audio_lib.MelSpec = audio_lib.DEFAULT_SPEC

  def __post_init__(self):
    frames = self.mel.frames_per(self.tick_ms)
    if self.frames_per_audio_token <= 0 or frames % self.frames_per_audio_token:
      raise ValueError(f"frames_per_audio_token={self.frames_per_audio_token} must divide the "
                       f"{frames} mel frames of a {self.tick_ms} ms tick")
    if (self.video_height == 0) != (self.video_width == 0):
      raise ValueError(f"video_height and video_width must both be 0 (no video) or both set, "
                       f"got {self.video_height}x{self.video_width}")
    if self.video_height:
      video_lib.patch_grid(self.video_height, self.video_width)
    for name in ("text_in_tokens", "bg_in_tokens"):
      if getattr(self, name) < 0:
        raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
    if self.text_out_tokens < 1:
      raise ValueError(f"text_out_tokens must be >= 1 (the speak/silence decision), "
                       f"got {self.text_out_tokens}")

  @classmethod
  def from_config(cls, config) -> "TickLayout":
    """Builds a layout from a config section with the same field names
    (mel fields live in an optional `mel` sub-section)."""
    values = dict(config)
    mel = values.pop("mel", None)
    unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
      raise ValueError(f"unknown TickLayout fields {sorted(unknown)}")
    if mel is not None:
      values["mel"] = audio_lib.MelSpec(**dict(mel))
    return cls(**values)

  # Sizes -----------------------------------------------------------------

  @functools.cached_property
  def frames_per_tick(self) -> int:
    return self.mel.frames_per(self.tick_ms)

  @functools.cached_property
  def samples_per_tick(self) -> int:
    return self.frames_per_tick * self.mel.hop_length

  @functools.cached_property
  def n_audio_tokens(self) -> int:
    """Audio tokens per tick, the same for user audio, self audio and audio out."""
    return self.frames_per_tick // self.frames_per_audio_token

  @functools.cached_property
  def n_video_tokens(self) -> int:
    if not self.video_height:
      return 0
    rows, cols = video_lib.patch_grid(self.video_height, self.video_width)
    return rows * cols

  @functools.cached_property
  def _counts(self) -> tuple[int, ...]:
    """Positions per Slot kind, in Slot order."""
    audio = self.n_audio_tokens
    return (1, audio, audio, self.n_video_tokens, self.text_in_tokens, self.bg_in_tokens,
            self.text_out_tokens, audio)

  def count(self, kind: Slot) -> int:
    """Number of positions of `kind` in one tick."""
    return self._counts[Slot(kind)]

  def offset(self, kind: Slot) -> int:
    """Position of the first `kind` slot within a tick."""
    return sum(self._counts[:Slot(kind)])

  def span(self, kind: Slot) -> slice:
    """The positions of `kind` within a tick, as a slice."""
    start = self.offset(kind)
    return slice(start, start + self.count(kind))

  @functools.cached_property
  def tick_len(self) -> int:
    return sum(self._counts)

  @functools.cached_property
  def input_len(self) -> int:
    """Positions of the input part (prefilled in one step by the sampler)."""
    return sum(self.count(k) for k in INPUT_SLOTS)

  @property
  def output_len(self) -> int:
    return self.tick_len - self.input_len

  @functools.cached_property
  def slot_kinds(self) -> np.ndarray:
    """int32 `[tick_len]` (read-only): the Slot of each position in a tick."""
    kinds = np.repeat(np.arange(len(Slot), dtype=np.int32), self._counts)
    kinds.setflags(write=False)
    return kinds

  @functools.cached_property
  def slot_index(self) -> np.ndarray:
    """int32 `[tick_len]` (read-only): each position's index among its kind's slots."""
    index = np.concatenate([np.arange(n, dtype=np.int32) for n in self._counts])
    index.setflags(write=False)
    return index

  def describe(self) -> str:
    """One line per slot kind: count and positions, for logs and the README."""
    lines = [f"tick = {self.tick_ms} ms = {self.tick_len} positions "
             f"(input {self.input_len}, output {self.output_len})"]
    for kind in Slot:
      span = self.span(kind)
      lines.append(f"  {kind.name.lower():<10} x{self.count(kind):<3} positions "
                   f"{span.start}..{span.stop - 1}" if self.count(kind) else
                   f"  {kind.name.lower():<10} x0")
    return "\n".join(lines)

  # Position <-> (tick, slot, index) --------------------------------------

  def position(self, tick: int, kind: Slot, index: int = 0) -> int:
    """Absolute episode position of slot `index` of `kind` in `tick`."""
    if tick < 0:
      raise ValueError(f"tick must be >= 0, got {tick}")
    if not 0 <= index < self.count(kind):
      raise ValueError(f"{Slot(kind).name} has {self.count(kind)} slots per tick; "
                       f"index {index} is out of range")
    return tick * self.tick_len + self.offset(kind) + index

  def locate(self, position: int) -> tuple[int, Slot, int]:
    """(tick, kind, index) of an absolute episode position; inverse of `position`."""
    if position < 0:
      raise ValueError(f"position must be >= 0, got {position}")
    tick, within = divmod(int(position), self.tick_len)
    return tick, Slot(int(self.slot_kinds[within])), int(self.slot_index[within])

  def episode_slot_kinds(self, n_ticks: int) -> np.ndarray:
    """int32 `[n_ticks * tick_len]`: the Slot at every position of an episode."""
    return np.tile(self.slot_kinds, n_ticks)

  def n_ticks(self, n_positions: int) -> int:
    """Ticks in a sequence of `n_positions`; a ValueError unless it is whole ticks."""
    if n_positions % self.tick_len:
      raise ValueError(f"sequence length {n_positions} is not a multiple of tick_len={self.tick_len}")
    return n_positions // self.tick_len

  # Packing ---------------------------------------------------------------

  def split_frames(self, frames: np.ndarray) -> np.ndarray:
    """`[n_ticks * frames_per_tick, ...]` → `[n_ticks, frames_per_tick, ...]`."""
    if frames.shape[0] % self.frames_per_tick:
      raise ValueError(f"{frames.shape[0]} mel frames are not whole ticks of {self.frames_per_tick}")
    return frames.reshape(-1, self.frames_per_tick, *frames.shape[1:])

  def pack(self, inputs: TickInputs, outputs: TickOutputs = TickOutputs()) -> PackedTicks:
    """One tick's inputs and outputs → `PackedTicks` with leading shape ()."""
    tokens = np.full(self.tick_len, text_lib.PAD, np.int32)
    present = np.zeros(self.tick_len, bool)
    tokens[self.span(Slot.TICK)] = text_lib.TICK
    present[self.span(Slot.TICK)] = True
    for kind, ids in ((Slot.TEXT_IN, inputs.text_in), (Slot.BG_IN, inputs.bg_in),
                      (Slot.TEXT_OUT, outputs.text_out)):
      padded = text_lib.pad_to(ids, self.count(kind), what=kind.name.lower())
      tokens[self.span(kind)] = padded
      present[self.span(kind)] = padded != text_lib.PAD
    user_audio = self._pack_audio(inputs.user_audio, Slot.USER_AUDIO, present, codes=True)
    self_audio = self._pack_audio(inputs.self_audio, Slot.SELF_AUDIO, present, codes=True)
    audio_out = self._pack_audio(outputs.audio_out, Slot.AUDIO_OUT, present, codes=False)
    video = self._pack_video(inputs.video, present)
    return PackedTicks(tokens=tokens, present=present, user_audio=user_audio,
                       self_audio=self_audio, video=video, audio_out=audio_out)

  def pack_episode(self, inputs: Sequence[TickInputs],
                   outputs: Sequence[TickOutputs] | None = None) -> PackedTicks:
    """Packs ticks in time order → `PackedTicks` with leading shape [n_ticks]."""
    if outputs is None:
      outputs = [TickOutputs()] * len(inputs)
    if len(inputs) != len(outputs):
      raise ValueError(f"{len(inputs)} tick inputs but {len(outputs)} tick outputs")
    return PackedTicks.stack([self.pack(i, o) for i, o in zip(inputs, outputs)])

  def unpack(self, packed: PackedTicks) -> tuple[TickInputs, TickOutputs]:
    """Inverse of `pack` for one tick (leading shape ()); absent parts → None/()."""
    if packed.tokens.shape != (self.tick_len,):
      raise ValueError(f"unpack expects one tick of {self.tick_len} tokens, "
                       f"got tokens {packed.tokens.shape}")

    def text(kind):
      ids = packed.tokens[self.span(kind)]
      return tuple(int(t) for t in ids[packed.present[self.span(kind)]])

    def audio(kind, values):
      if not packed.present[self.span(kind)].any():
        return None
      return values.reshape(self.frames_per_tick, self.mel.n_mels)

    video = None
    if self.n_video_tokens and packed.present[self.span(Slot.VIDEO)].any():
      rows, cols = video_lib.patch_grid(self.video_height, self.video_width)
      video = video_lib.unpatchify(packed.video, rows, cols)
    inputs = TickInputs(user_audio=audio(Slot.USER_AUDIO, packed.user_audio),
                        self_audio=audio(Slot.SELF_AUDIO, packed.self_audio),
                        video=video, text_in=text(Slot.TEXT_IN), bg_in=text(Slot.BG_IN))
    outputs = TickOutputs(text_out=text(Slot.TEXT_OUT),
                          audio_out=audio(Slot.AUDIO_OUT, packed.audio_out))
    return inputs, outputs

  def _pack_audio(self, values, kind: Slot, present: np.ndarray, *, codes: bool) -> np.ndarray:
    shape = (self.n_audio_tokens, self.frames_per_audio_token, self.mel.n_mels)
    dtype = np.int32 if codes else np.float32
    if values is None:
      return np.zeros(shape, dtype)
    values = np.asarray(values)
    expected = (self.frames_per_tick, self.mel.n_mels)
    name = kind.name.lower()
    if values.shape != expected:
      raise ValueError(f"{name} must have shape {expected} (mel frames of one tick x channels), "
                       f"got {values.shape}")
    if codes:
      audio_lib.check_codes(values)
    elif not np.issubdtype(values.dtype, np.floating):
      raise ValueError(f"{name} must be float log-mel values, got dtype {values.dtype}")
    elif not np.all(np.isfinite(values)):
      raise ValueError(f"{name} has non-finite log-mel values; expected finite floats")
    present[self.span(kind)] = True
    return values.astype(dtype).reshape(shape)

  def _pack_video(self, frame, present: np.ndarray) -> np.ndarray:
    shape = (self.n_video_tokens, video_lib.PATCH_SIZE, video_lib.PATCH_SIZE, 3)
    if frame is None:
      return np.zeros(shape, np.uint8)
    if not self.n_video_tokens:
      raise ValueError("this layout has no video slots (video_height=video_width=0), "
                       "but a video frame was given")
    video_lib.check_frame(frame)
    if frame.shape[:2] != (self.video_height, self.video_width):
      raise ValueError(f"video frame must be {self.video_height}x{self.video_width} pixels, "
                       f"got {frame.shape[0]}x{frame.shape[1]}")
    present[self.span(Slot.VIDEO)] = True
    return video_lib.patchify(frame)
