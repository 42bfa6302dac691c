"""What plays the model's side of an evaluation session, behind one small interface.

A player has `max_sessions`, `begin()` (a new pass over episodes starts),
`open(episode) -> sid`, `step({sid: TickInputs},
allow_speech={sid: bool}) -> {sid: tick}` (one tick of every given session; a
tick has `.text_out` int32 [text_out_tokens] and `.audio_out` float32 log-mel
[frames_per_tick, n_mels] or None) and `close(sid)`.

- `EnginePlayer`: the real model through `interaction.SessionEngine`. `open`
  takes the episode only to derive the session's sampling seed; the engine
  sees nothing of it but the per-tick inputs `step` passes.
- `OraclePlayer`: replays the episode's rendered targets (a perfect model),
  for ceilings and for testing the evaluation loop. Under the harness its
  speech is cut where `allow_speech` is False, never delayed.
"""

from collections.abc import Callable, Mapping
import dataclasses
from typing import Any
import zlib

import numpy as np

from data_pipelines import stream
from data_pipelines import text
from data_pipelines.stream import Slot
from eval import episodes as episodes_lib


def session_seed(base_seed: int, ep: episodes_lib.EvalEpisode) -> int:
  """A sampling seed per (base seed, family, index): the same in every run and mode."""
  return zlib.crc32(f"{base_seed}/{ep.family}/{ep.index}".encode()) & 0x7FFFFFFF


class EnginePlayer:
  """`interaction.SessionEngine` sessions, one `SamplerConfig` per episode.

  The engine draws a session's randomness from (sampler seed, session id,
  tick). `begin` (called by `streaming.play` before each pass) starts a fresh
  engine, so in every pass the i-th episode opened gets session id i and the
  same randomness: modes are compared on the same sampling noise, and a rerun
  replays bit for bit. A `SessionError` the engine returns for a session is
  raised.
  """

  def __init__(self, new_engine: Callable[[], Any], sampler_config, base_seed: int = 0):
    """new_engine: builds an `interaction.SessionEngine` (all share the model's compiled step);
    sampler_config: an `interaction.SamplerConfig` whose seed is replaced per episode by
    `session_seed(base_seed, episode)`."""
    self.new_engine = new_engine
    self.engine = new_engine()
    self.sampler_config = sampler_config
    self.base_seed = base_seed

  def begin(self) -> None:
    self.engine = self.new_engine()

  @property
  def max_sessions(self) -> int:
    return self.engine.max_sessions

  def open(self, ep: episodes_lib.EvalEpisode) -> int:
    if ep.n_ticks > self.engine.max_ticks:
      raise ValueError(f"{ep.family} episode {ep.index} has {ep.n_ticks} ticks but the engine's "
                       f"sessions hold {self.engine.max_ticks} (max_ticks)")
    config = dataclasses.replace(self.sampler_config, seed=session_seed(self.base_seed, ep))
    return self.engine.open(config)

  def step(self, inputs: Mapping[int, stream.TickInputs], allow_speech: Mapping[int, bool]):
    results = self.engine.step(dict(inputs), allow_speech=dict(allow_speech))
    for result in results.values():
      if isinstance(result, Exception):
        raise result
    return results

  def close(self, sid: int) -> None:
    self.engine.close(sid)


@dataclasses.dataclass(frozen=True)
class ReplayedTick:
  """One tick of `OraclePlayer`, shaped like the engine's `TickResult`."""
  tick: int
  text_out: np.ndarray  # int32 [text_out_tokens]
  audio_out: np.ndarray | None  # float32 [frames_per_tick, n_mels]


class OraclePlayer:
  """Replays rendered targets (see the module docstring)."""

  def __init__(self, max_sessions: int = 8):
    self.max_sessions = max_sessions
    self._sessions: dict[int, list] = {}  # sid -> [episode, next tick]
    self._next_sid = 0

  def begin(self) -> None:
    """Nothing to reset: a replay has no randomness."""

  def open(self, ep: episodes_lib.EvalEpisode) -> int:
    if len(self._sessions) >= self.max_sessions:
      raise ValueError(f"all {self.max_sessions} sessions are in use")
    sid, self._next_sid = self._next_sid, self._next_sid + 1
    self._sessions[sid] = [ep, 0]
    return sid

  def step(self, inputs: Mapping[int, stream.TickInputs],
           allow_speech: Mapping[int, bool]) -> dict[int, ReplayedTick]:
    results = {}
    for sid in inputs:
      if sid not in self._sessions:
        raise ValueError(f"unknown or closed session {sid}")
      ep, t = self._sessions[sid]
      layout = ep.layout
      tokens = ep.episode.ticks.tokens[t, layout.span(Slot.TEXT_OUT)].astype(np.int32)
      audio = None
      if ep.episode.ticks.present[t, layout.span(Slot.AUDIO_OUT)].any():
        audio = ep.episode.ticks.audio_out[t].reshape(layout.frames_per_tick, layout.mel.n_mels)
      if not allow_speech.get(sid, True):
        tokens = text.pad_to([text.SILENCE], layout.text_out_tokens).astype(np.int32)
        audio = None
      results[sid] = ReplayedTick(tick=t, text_out=tokens, audio_out=audio)
      self._sessions[sid][1] = t + 1
    return results

  def close(self, sid: int) -> None:
    if self._sessions.pop(sid, None) is None:
      raise ValueError(f"unknown or closed session {sid}")
