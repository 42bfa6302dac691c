"""Streaming sessions: many conversations advanced together, one tick at a time.

`SessionEngine` keeps a fixed number of session slots (rows of one batched KV
cache) and serves them with one compiled `tick_step`:

    engine = SessionEngine(model, max_sessions=8, max_ticks=300)
    sid = engine.open(SamplerConfig(seed=0, temperature=0.7, top_k=20))
    result = engine.append(sid, stream.TickInputs(user_audio=codes))   # one tick
    results = engine.step({sid: inputs, other: other_inputs})          # one batched tick
    record = engine.close(sid)   # the finished episode, for the trainer

Sessions are append-only, open and close at any tick and have different
lengths; each call runs one tick per named session (so one tick in flight per
session). The model hears its own previous speech: the engine feeds the dMel
codes of a session's last audio out into its next self-audio slots, as the
data suite does. Idle sessions expire after `idle_timeout_s`; their records
stay available to `close`.

Errors are per session: an unknown, closed or expired id, inputs of the wrong
shape, non-finite audio or a session at its KV capacity raise `SessionError`
from `append`; `step` returns the error as that session's entry and still runs
the others, whose state is untouched by the failure.
"""

from collections.abc import Mapping
import dataclasses
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np

from data_pipelines import audio as audio_lib
from data_pipelines import pipeline
from data_pipelines import stream
from data_pipelines.stream import Slot
from interaction import flow
from interaction import model as model_lib
from interaction import sampler as sampler_lib
from interaction import tick_step as tick_step_lib


class SessionError(ValueError):
  """A request for one session was invalid; the message names the session."""


@dataclasses.dataclass(frozen=True)
class TickResult:
  """What one session produced in one tick.

  tick: the session's tick index of this result.
  text_out: int32 [text_out_tokens], every text-out slot's token.
  logprobs: float32 [text_out_tokens], the model's log-prob of each token.
  audio_out: float32 [frames_per_tick, n_mels] log10 mel spoken during the
    next tick, or None when the model stays silent.
  latency_s: wall time of the batched step that produced it.
  """
  tick: int
  text_out: np.ndarray
  logprobs: np.ndarray
  audio_out: np.ndarray | None
  latency_s: float


@dataclasses.dataclass(frozen=True)
class FinishedSession:
  """A closed session: its ticks as packed (inputs and generated outputs) and results."""
  session_id: int
  config: sampler_lib.SamplerConfig
  layout: stream.TickLayout
  ticks: stream.PackedTicks | None  # leading shape [n_ticks]; None if it ran no tick
  results: tuple[TickResult, ...]

  @property
  def n_ticks(self) -> int:
    return len(self.results)

  @property
  def example(self) -> dict[str, np.ndarray]:
    """The episode as a training example (`pipeline.ticks_to_example`)."""
    if self.ticks is None:
      raise ValueError(f"session {self.session_id} ran no tick; it has no episode")
    return pipeline.ticks_to_example(self.layout, self.ticks)

  @property
  def logprobs(self) -> np.ndarray:
    """float32 [n_ticks × tick_len]: the sampler's log-probs at text-out positions, 0 elsewhere."""
    out = np.zeros((self.n_ticks, self.layout.tick_len), np.float32)
    out[:, self.layout.span(Slot.TEXT_OUT)] = [r.logprobs for r in self.results]
    return out.reshape(-1)


@dataclasses.dataclass
class _Session:
  session_id: int
  config: sampler_lib.SamplerConfig
  row: int
  mel_stream: audio_lib.LogMelStream
  last_used: float
  tick: int = 0
  self_audio: np.ndarray | None = None
  inputs: list = dataclasses.field(default_factory=list)  # TickInputs as the model saw them.
  outputs: list = dataclasses.field(default_factory=list)  # TickOutputs it produced.
  results: list = dataclasses.field(default_factory=list)

  def finish(self, layout: stream.TickLayout) -> FinishedSession:
    packed = layout.pack_episode(self.inputs, self.outputs) if self.inputs else None
    return FinishedSession(self.session_id, self.config, layout, packed, tuple(self.results))


@dataclasses.dataclass(frozen=True)
class _Request:
  """A validated tick for one session.

  inputs: the tick's inputs with the session's self audio; packed: them packed,
  or None when the user's audio comes as mic samples (packed once coded).
  """
  session: _Session
  inputs: stream.TickInputs
  packed: stream.PackedTicks | None
  mic: np.ndarray | None
  allow_speech: bool


class SessionEngine:
  """Runs up to `max_sessions` streaming sessions with one compiled tick step.

  Args:
    model: the interaction model (its impl decides whether outputs are batch
      invariant: "pallas" is, "xla" is not).
    max_sessions: session slots, the batch of every step.
    max_ticks: KV capacity of each session in ticks (<= model.cfg.max_ticks).
    flow_steps: Euler steps of the flow head (1–32), the same for all sessions.
    idle_timeout_s: a session not appended to for this long is closed.
    clock: time source in seconds (tests pass a fake one).
  """

  def __init__(self, model: model_lib.InteractionModel, *, max_sessions: int = 8,
               max_ticks: int | None = None, flow_steps: int = 4,
               idle_timeout_s: float = 300.0, clock=time.monotonic):
    max_ticks = model.cfg.max_ticks if max_ticks is None else max_ticks
    if not 1 <= max_ticks <= model.cfg.max_ticks:
      raise ValueError(f"max_ticks must lie in [1, model.max_ticks={model.cfg.max_ticks}], "
                       f"got {max_ticks}")
    if max_sessions < 1:
      raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
    if not isinstance(flow_steps, int) or not 1 <= flow_steps <= flow.MAX_EULER_STEPS:
      raise ValueError(f"flow_steps must be an int in [1, {flow.MAX_EULER_STEPS}], "
                       f"got {flow_steps!r}")
    if idle_timeout_s <= 0:
      raise ValueError(f"idle_timeout_s must be > 0, got {idle_timeout_s}")
    self.model, self.layout = model, model.layout
    self.max_sessions, self.max_ticks = max_sessions, max_ticks
    self.idle_timeout_s, self._clock = idle_timeout_s, clock
    self._stepper = tick_step_lib.TickStepper(model, flow_steps=flow_steps)
    self._state = tick_step_lib.SessionState.zeros(model, max_sessions, max_ticks)
    self._noise_shape = (self.layout.count(Slot.AUDIO_OUT),
                         self.layout.frames_per_audio_token * self.layout.mel.n_mels)
    self._open: dict[int, _Session] = {}
    self._expired: dict[int, FinishedSession] = {}
    self._closed: set[int] = set()
    self._next_id = 0
    self._blank = self.layout.pack(stream.TickInputs())  # What idle rows are fed.
    self._lock = threading.Lock()

  @property
  def open_sessions(self) -> tuple[int, ...]:
    return tuple(self._open)

  def open(self, config: sampler_lib.SamplerConfig = sampler_lib.SamplerConfig(), *,
           session_id: int | None = None) -> int:
    """Starts a session at tick 0; returns its id (given, or the next unused one)."""
    if not isinstance(config, sampler_lib.SamplerConfig):
      raise TypeError(f"config must be a SamplerConfig, got {type(config).__name__}")
    with self._lock:
      self._expire_idle()
      if session_id is None:
        while self._known(self._next_id):
          self._next_id += 1
        session_id = self._next_id
      elif not isinstance(session_id, (int, np.integer)) or session_id < 0:
        raise SessionError(f"session id must be an int >= 0, got {session_id!r}")
      elif self._known(session_id):
        raise SessionError(f"session {session_id} already exists; session ids are not reused")
      used = {s.row for s in self._open.values()}
      free = [r for r in range(self.max_sessions) if r not in used]
      if not free:
        raise SessionError(f"cannot open session {session_id}: all {self.max_sessions} session "
                           "slots are in use (close one or raise max_sessions)")
      self._open[session_id] = _Session(session_id, config, free[0],
                                        audio_lib.LogMelStream(self.layout.mel),
                                        last_used=self._clock())
      return int(session_id)

  def append(self, session_id: int, inputs: stream.TickInputs, *, allow_speech: bool = True,
             mic: np.ndarray | None = None) -> TickResult:
    """Runs one tick of one session; raises `SessionError` on a bad request.

    Args:
      session_id: an open session.
      inputs: the tick's inputs; `self_audio` must be None (the engine supplies it).
      allow_speech: False forces this tick's text out to `<silence>` then
        `<pad>`s and no audio (a turn-based harness holding the model quiet).
      mic: optional float 16 kHz waveform of the tick (`samples_per_tick`
        samples); the engine turns it into the user-audio codes with the
        session's streaming log-mel. Give either this or inputs.user_audio.
    """
    result = self.step({session_id: inputs}, allow_speech={session_id: allow_speech},
                       mic={} if mic is None else {session_id: mic})[session_id]
    if isinstance(result, SessionError):
      raise result
    return result

  def step(self, requests: Mapping[int, stream.TickInputs], *,
           allow_speech: Mapping[int, bool] | None = None,
           mic: Mapping[int, np.ndarray] | None = None) -> dict[int, TickResult | SessionError]:
    """Runs one tick for each named session in one batched step.

    Returns each session's `TickResult`, or the `SessionError` its request
    raised (that session did not advance; the others ran normally).
    """
    allow_speech, mic = allow_speech or {}, mic or {}
    with self._lock:
      self._expire_idle()
      out: dict[int, TickResult | SessionError] = {}
      valid = []
      for sid, inputs in requests.items():
        try:
          valid.append(self._validate(sid, inputs, allow_speech.get(sid, True), mic.get(sid)))
        except SessionError as e:
          out[sid] = e
      if valid:
        out.update(self._run(valid))
      return out

  def close(self, session_id: int) -> FinishedSession:
    """Ends a session (or collects an expired one) and returns its record."""
    with self._lock:
      if session_id in self._expired:
        record = self._expired.pop(session_id)
      elif session_id in self._open:
        record = self._open.pop(session_id).finish(self.layout)
      else:
        raise self._unknown(session_id)
      self._closed.add(session_id)
      return record

  # Internals (called with the lock held).

  def _known(self, session_id: int) -> bool:
    return session_id in self._open or session_id in self._expired or session_id in self._closed

  def _unknown(self, session_id) -> SessionError:
    if session_id in self._closed:
      return SessionError(f"session {session_id} is closed")
    if session_id in self._expired:
      return SessionError(f"session {session_id} expired after {self.idle_timeout_s} s idle; "
                          "close() returns its record")
    return SessionError(f"unknown session {session_id!r}")

  def _expire_idle(self) -> None:
    now = self._clock()
    for sid in [s for s, sess in self._open.items()
                if now - sess.last_used > self.idle_timeout_s]:
      self._expired[sid] = self._open.pop(sid).finish(self.layout)

  def _validate(self, sid, inputs, allow_speech, mic) -> _Request:
    session = self._open.get(sid)
    if session is None:
      raise self._unknown(sid)
    if not isinstance(inputs, stream.TickInputs):
      raise SessionError(f"session {sid}: tick inputs must be a stream.TickInputs, "
                         f"got {type(inputs).__name__}")
    if inputs.self_audio is not None:
      raise SessionError(f"session {sid}: self_audio must be None; the engine feeds the model "
                         "its own previous speech")
    if session.tick >= self.max_ticks:
      raise SessionError(f"session {sid} is at its KV capacity of {self.max_ticks} ticks "
                         f"(max_ticks); close it")
    try:
      if mic is not None:
        if inputs.user_audio is not None:
          raise ValueError("give the user's audio as mic samples or as dMel codes, not both")
        mic = np.asarray(mic)
        if mic.shape != (self.layout.samples_per_tick,):
          raise ValueError(f"mic must hold one tick of {self.layout.samples_per_tick} samples "
                           f"at {self.layout.mel.sample_rate} Hz, got shape {mic.shape}")
        audio_lib.check_wave(mic, self.layout.mel.sample_rate, self.layout.mel)
      inputs = dataclasses.replace(inputs, self_audio=session.self_audio)
      packed = self.layout.pack(inputs)  # Checks every field's shape, dtype and range.
    except ValueError as e:
      raise SessionError(f"session {sid}: {e}") from e
    return _Request(session, inputs, None if mic is not None else packed, mic,
                    bool(allow_speech))

  def _run(self, requests: list[_Request]) -> dict[int, TickResult]:
    layout, rows = self.layout, self.max_sessions
    n_text = layout.count(Slot.TEXT_OUT)
    packed = [self._blank] * rows
    tick = np.zeros(rows, np.int32)
    active = np.zeros(rows, bool)
    allow = np.ones(rows, bool)
    temperature = np.zeros(rows, np.float32)
    top_k = np.zeros(rows, np.int32)
    uniform = np.ones((rows, n_text), np.float32)
    noise = np.zeros((rows, *self._noise_shape), np.float32)
    heard = {}  # row → the tick's inputs as the model saw them.
    for req in requests:
      s, r = req.session, req.session.row
      heard[r], packed[r] = req.inputs, req.packed
      if req.mic is not None:  # Streaming log-mel, equal to the whole-file one.
        codes = audio_lib.dmel_encode(s.mel_stream.push(req.mic, layout.mel.sample_rate))
        heard[r] = dataclasses.replace(req.inputs, user_audio=codes)
        packed[r] = layout.pack(heard[r])
      tick[r], active[r], allow[r] = s.tick, True, req.allow_speech
      temperature[r], top_k[r] = s.config.temperature, s.config.top_k
      uniform[r], noise[r] = sampler_lib.slot_randomness(s.config.seed, s.session_id, s.tick,
                                                         n_text, self._noise_shape)
    stacked = stream.PackedTicks.stack(packed)
    batch = tick_step_lib.TickBatch(
        tokens=jnp.asarray(stacked.tokens), present=jnp.asarray(stacked.present),
        user_audio=jnp.asarray(stacked.user_audio), self_audio=jnp.asarray(stacked.self_audio),
        video=jnp.asarray(stacked.video), tick=jnp.asarray(tick), active=jnp.asarray(active),
        allow_speech=jnp.asarray(allow),
        temperature=jnp.asarray(temperature), top_k=jnp.asarray(top_k),
        uniform=jnp.asarray(uniform), noise=jnp.asarray(noise))
    start = time.perf_counter()
    self._state, out = self._stepper(self._state, batch)
    text, logprobs, mel, speaks = jax.device_get((out.text, out.logprobs, out.mel, out.speaks))
    latency = time.perf_counter() - start
    now = self._clock()
    results = {}
    for req in requests:
      s, r = req.session, req.session.row
      tick_mel = mel[r].reshape(layout.frames_per_tick, layout.mel.n_mels) if speaks[r] else None
      result = TickResult(tick=s.tick, text_out=text[r].copy(), logprobs=logprobs[r].copy(),
                          audio_out=tick_mel, latency_s=latency)
      s.inputs.append(heard[r])
      s.outputs.append(stream.TickOutputs(text_out=tuple(int(t) for t in text[r]),
                                          audio_out=tick_mel))
      s.results.append(result)
      s.self_audio = None if tick_mel is None else audio_lib.dmel_encode(tick_mel)
      s.tick += 1
      s.last_used = now
      results[s.session_id] = result
    return results
