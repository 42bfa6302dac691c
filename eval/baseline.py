"""The turn-based baseline: a VAD harness in front of the model, like commercial realtime APIs.

Which turn-based model: *our own model, restricted to speaking after detected
turn ends* (not a second model trained turn-based). Every tick it still hears
and sees everything, but the harness passes `allow_speech=False` to the
session engine unless it grants the model the floor, and the engine then
forces the tick's text out to `<silence>` and emits no audio. The comparison
isolates what the harness costs: same weights, same inputs, only who decides
when the model may speak differs.

The harness (`TurnGate`), one per session, runs tick by tick before the tick
is stepped. Silero VAD (`eval.vad.TurnDetector`; defaults threshold 0.5, neg
0.35, 500 ms minimum silence as OpenAI's `server_vad`) listens to the raw mic
audio of the tick (user and other speakers, never the model's own speech); the
gate of tick t depends on mic samples [0, (t + 1) * samples_per_tick) and the
model's outputs before tick t only. VAD events are applied in stream order:
- a detected end of speech grants the floor (a new turn for the model);
- a detected start of speech takes it away (barge-in: realtime APIs cancel the
  response on `speech_started`);
- a typed message or a background (tool) result in the tick grants it too, as
  a text message or a function result triggers a response in those APIs,
  unless someone is speaking.
`allow_speech` of tick t is the state after that. The model's output of tick t
is heard in tick t + 1, so the model can be heard from the first tick after
the tick in which the turn end was detected.

Policies (how long a granted floor lasts):
- "floor" (`POLICIES[0]`): until the VAD hears anyone again. Consequence: in
  a long silence after the user's turn the model may speak whenever it wants,
  so a model with its own sense of time still does timing tasks whose cue is
  the silence after the instruction; the harness only forbids speech while
  anyone talks and for min_silence_ms (+ up to a tick) after each turn.
- "response": one response per turn, as a turn-based model answers: the floor
  also closes when the model's response is over (it spoke, then was silent
  for a whole tick) or when it has not started speaking within
  `response_timeout_ms` of the grant (a turn-based model answers at once or
  not at all). Consequence: speech at a requested time, on a later cue or
  when something later appears on video is impossible unless a new user turn
  (or a background result) happens to grant the floor then.
"""

import dataclasses

import numpy as np

from data_pipelines import stream
from eval import vad

POLICIES = ("floor", "response")


@dataclasses.dataclass(frozen=True)
class HarnessConfig:
  """The VAD settings, the floor policy and the response timeout (see the module docstring)."""
  turn: vad.TurnConfig = vad.TurnConfig()
  policy: str = "response"
  response_timeout_ms: float = 1000.0

  def __post_init__(self):
    if self.policy not in POLICIES:
      raise ValueError(f"unknown harness policy {self.policy!r}; expected one of {POLICIES}")
    if self.response_timeout_ms <= 0:
      raise ValueError(f"response_timeout_ms must be > 0, got {self.response_timeout_ms}")


@dataclasses.dataclass(frozen=True)
class GateTrace:
  """A whole session's gate: allow[t] per tick, and every VAD event with its tick."""
  allow: tuple[bool, ...]
  events: tuple[tuple[int, vad.VadEvent], ...]

  def turn_end_ticks(self) -> tuple[int, ...]:
    """Ticks during which an end of speech was detected."""
    return tuple(t for t, e in self.events if e.kind == "end")


class TurnGate:
  """The harness state of one session (see the module docstring)."""

  def __init__(self, config: HarnessConfig = HarnessConfig(), tick_ms: int = 200):
    self.config = config
    self.tick_ms = tick_ms
    self.detector = vad.TurnDetector(config.turn)
    self.open = False
    self.tick = 0
    self.allow: list[bool] = []
    self.events: list[tuple[int, vad.VadEvent]] = []
    self._granted_tick = 0  # Tick of the last grant.
    self._responding = False  # The model has spoken since the last grant.

  def step(self, mic: np.ndarray, inputs: stream.TickInputs | None = None,
           spoke_last_tick: bool = False) -> bool:
    """allow_speech for this tick.

    Args:
      mic: float32 16 kHz mic samples of this tick.
      inputs: this tick's inputs (typed text and background results grant the floor).
      spoke_last_tick: the model emitted audio in the previous tick.
    """
    if self.open and self.config.policy == "response":
      if spoke_last_tick:
        self._responding = True
      elif self._responding:
        self.open = False  # The response is over.
      elif (self.tick - self._granted_tick) * self.tick_ms >= self.config.response_timeout_ms:
        self.open = False  # No response in time.
    for event in self.detector.feed(mic):
      self.events.append((self.tick, event))
      if event.kind == "end":
        self._grant()
      else:
        self.open = False
    if inputs is not None and (inputs.text_in or inputs.bg_in) and not self.detector.in_speech:
      self._grant()
    self.allow.append(self.open)
    self.tick += 1
    return self.open

  def _grant(self) -> None:
    self.open, self._granted_tick, self._responding = True, self.tick, False

  def trace(self) -> GateTrace:
    return GateTrace(allow=tuple(self.allow), events=tuple(self.events))
