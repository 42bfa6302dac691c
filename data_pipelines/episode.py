"""Episodes: a scripted timeline of who says, types, shows and answers what, rendered to ticks.

A scenario generator writes an `EpisodeScript` (lines of speech with start
times, typed text, background results, the model's control tokens, a video
scene, the ground truth); `render` turns it into the packed ticks a model
trains on, plus the waveforms and word times that metrics and plots need.

Timing conventions (tick = `layout.tick_ms`, playback time in ms):

- User and other speech (`speaker` "user" / "other") is mixed into one mic
  track; tick t's user-audio slots hold the dMel codes of the mic during
  [t, t + 1) ticks.
- The model's speech (`speaker` "model") is given by the time it is *heard*.
  The model's output in tick t is played during tick t + 1, so tick t's
  audio-out slots hold the log-mel of the model track during [t + 1, t + 2)
  ticks (absent when that window is silent), and tick t's self-audio slots
  hold the dMel codes of the model's audio out of tick t - 1, i.e. what it
  played during tick t. A model line therefore cannot start before 1 tick.
- Inner monologue: the model's text is aligned to its speech. The text of
  each spoken word (with the spaces and punctuation after it, so the text
  channel decodes to the line) is queued in the tick whose audio out holds the
  word's start; control tokens (e.g. `<delegate>`) are queued in their tick.
  Each tick's text-out slots take up to `text_out_tokens` queued tokens in
  order, the rest `<pad>`. A tick with no text to emit whose audio out is
  silent (the model says nothing during the next tick) holds `<silence>` then
  `<pad>`s: the explicit decision to stay quiet.
- Typed text and background results are queued from their tick and fill the
  text-in and bg-in slots the same way (a background result is wrapped in
  `<bg_start>` ... `<bg_end>`).
- Video: tick t's frame is the scene at the end of tick t, `(t + 1) * tick`.
"""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any, Protocol

import numpy as np

from data_pipelines import audio
from data_pipelines import speech_cache as cache_lib
from data_pipelines import stream
from data_pipelines import text as text_lib

SPEAKERS = ("user", "other", "model")


class Scene(Protocol):
  """A procedurally rendered video: the frame seen at time `t_s` seconds."""

  def frame(self, t_s: float, height: int, width: int) -> np.ndarray:  # uint8 [H, W, 3]
    ...


@dataclasses.dataclass(frozen=True)
class Line:
  """One utterance on the timeline; `start_ms` is when it is heard."""
  speaker: str
  text: str
  start_ms: int
  voice: cache_lib.Voice

  def __post_init__(self):
    if self.speaker not in SPEAKERS:
      raise ValueError(f"unknown speaker {self.speaker!r}; expected one of {SPEAKERS}")
    if self.start_ms < 0:
      raise ValueError(f"line {self.text!r} starts at {self.start_ms} ms; expected >= 0")


@dataclasses.dataclass(frozen=True)
class EpisodeScript:
  """Everything that happens in one episode, before any audio is rendered.

  typed, background: (tick, text) pairs: the user types `text` / a background
    result arrives, starting in that tick.
  controls: (tick, special token name) pairs the model emits, e.g. "delegate".
  truth: JSON-able ground truth for metrics, documented by the family.
  """
  family: str
  n_ticks: int
  lines: tuple[Line, ...] = ()
  typed: tuple[tuple[int, str], ...] = ()
  background: tuple[tuple[int, str], ...] = ()
  controls: tuple[tuple[int, str], ...] = ()
  scene: Scene | None = None
  truth: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SpokenWord:
  """A word as heard in the episode (times in ms from the episode start)."""
  speaker: str
  text: str
  start_ms: float
  end_ms: float


@dataclasses.dataclass(frozen=True)
class Episode:
  """A rendered episode.

  ticks: the packed ticks, leading shape [n_ticks].
  mic: float32 [n_ticks * samples_per_tick] what the model hears (user + other).
  model_audio: float32, same length: what the model says (its target speech).
  words: every spoken word, in start order.
  """
  script: EpisodeScript
  layout: stream.TickLayout
  ticks: stream.PackedTicks
  mic: np.ndarray
  model_audio: np.ndarray
  words: tuple[SpokenWord, ...]

  @property
  def truth(self) -> Mapping[str, Any]:
    return self.script.truth


def _queue_by_tick(events: Sequence[tuple[int, Sequence[int]]], n_ticks: int,
                   capacity: int, what: str) -> list[list[int]]:
  """Spreads token runs queued at ticks over per-tick slots of `capacity`, FIFO."""
  starts: dict[int, list[int]] = {}
  for tick, ids in events:
    if not 0 <= tick < n_ticks:
      raise ValueError(f"{what} at tick {tick} is outside the episode's {n_ticks} ticks")
    starts.setdefault(tick, []).extend(int(i) for i in ids)
  if starts and capacity == 0:
    raise ValueError(f"the episode has {what} but the layout has no slots for it")
  pending: list[int] = []
  per_tick = []
  for tick in range(n_ticks):
    pending.extend(starts.get(tick, ()))
    per_tick.append(pending[:capacity])
    pending = pending[capacity:]
  if pending:
    raise ValueError(f"{len(pending)} {what} tokens do not fit in the episode's {n_ticks} ticks "
                     f"at {capacity} per tick; lengthen the episode or move them earlier")
  return per_tick


def _place(track: np.ndarray, clip: np.ndarray, start: int, what: str) -> None:
  if start + len(clip) > len(track):
    raise ValueError(f"{what} ends at {(start + len(clip)) / 16:.0f} ms, after the episode's end "
                     f"at {len(track) / 16:.0f} ms; lengthen the episode (n_ticks) or start it earlier")
  track[start:start + len(clip)] += clip


def render(script: EpisodeScript, layout: stream.TickLayout,
           cache: cache_lib.SpeechCache) -> Episode:
  """Synthesizes and packs `script` under `layout` (see the module docstring)."""
  rate = layout.mel.sample_rate
  if rate != 16000:
    raise ValueError(f"episodes are rendered at 16 kHz; the layout's mel spec says {rate} Hz")
  samples, tick_ms = layout.samples_per_tick, layout.tick_ms
  n = script.n_ticks
  if n < 1:
    raise ValueError(f"an episode needs at least one tick, got n_ticks={n}")
  if script.scene is not None and not layout.n_video_tokens:
    raise ValueError(f"family {script.family!r} shows video, but the layout has no video slots; "
                     "set stream.video_height/video_width")
  mic = np.zeros(n * samples, np.float64)
  model = np.zeros(n * samples, np.float64)
  words: list[SpokenWord] = []
  text_out_events: list[tuple[int, Sequence[int]]] = []
  for line in script.lines:
    spoken = cache.synthesize(line.text, line.voice)
    start = line.start_ms * rate // 1000
    if line.speaker == "model" and line.start_ms < tick_ms:
      raise ValueError(f"model line {line.text!r} is heard at {line.start_ms} ms, but the model's "
                       f"first output is heard at {tick_ms} ms (after tick 0)")
    _place(model if line.speaker == "model" else mic, spoken.audio, start,
           f"{line.speaker} line {line.text!r}")
    for i, word in enumerate(spoken.words):
      start_ms = line.start_ms + 1000 * word.start_sample / rate
      words.append(SpokenWord(line.speaker, word.text, start_ms,
                              line.start_ms + 1000 * word.end_sample / rate))
      if line.speaker == "model":
        stop = spoken.words[i + 1].char_start if i + 1 < len(spoken.words) else len(line.text)
        first = 0 if i == 0 else word.char_start
        tick = int(start_ms // tick_ms) - 1
        text_out_events.append((tick, text_lib.encode(line.text[first:stop])))
  for tick, name in script.controls:
    text_out_events.append((tick, [text_lib.special_id(name)]))
  text_out_events.sort(key=lambda event: event[0])  # stable: same-tick order is kept.

  mic_mel = audio.log_mel(np.clip(mic, -1, 1), rate, spec=layout.mel)
  model_mel = layout.split_frames(audio.log_mel(np.clip(model, -1, 1), rate, spec=layout.mel))
  mic_codes = layout.split_frames(audio.dmel_encode(mic_mel))
  heard = [bool(np.any(model[t * samples:(t + 1) * samples])) for t in range(n)]

  text_out = _queue_by_tick(text_out_events, n, layout.text_out_tokens, "model text")
  typed = _queue_by_tick([(t, text_lib.encode(s)) for t, s in script.typed], n,
                         layout.text_in_tokens, "typed text")
  background = _queue_by_tick(
      [(t, [text_lib.BG_START, *text_lib.encode(s), text_lib.BG_END]) for t, s in script.background],
      n, layout.bg_in_tokens, "background result")

  inputs, outputs = [], []
  for t in range(n):
    speaks_next = t + 1 < n and heard[t + 1]
    tokens = text_out[t] if (text_out[t] or speaks_next) else [text_lib.SILENCE]
    video = None
    if script.scene is not None:
      video = script.scene.frame((t + 1) * tick_ms / 1000, layout.video_height, layout.video_width)
    inputs.append(stream.TickInputs(
        user_audio=mic_codes[t],
        self_audio=audio.dmel_encode(model_mel[t]) if heard[t] else None,
        video=video, text_in=typed[t], bg_in=background[t]))
    outputs.append(stream.TickOutputs(text_out=tokens,
                                      audio_out=model_mel[t + 1] if speaks_next else None))
  return Episode(script=script, layout=layout, ticks=layout.pack_episode(inputs, outputs),
                 mic=np.clip(mic, -1, 1).astype(np.float32),
                 model_audio=np.clip(model, -1, 1).astype(np.float32),
                 words=tuple(sorted(words, key=lambda w: w.start_ms)))
