"""Streaming voice activity detection with Silero VAD (its ONNX model, run by onnxruntime).

`SileroVad` turns a 16 kHz float stream, fed in pieces of any length, into one
speech probability per 512-sample chunk (32 ms). The model is the
`silero_vad.onnx` shipped in the `silero-vad` wheel (read from the installed
package's files, so torch is never imported). Its graph takes
`input` float32 [batch, 64 + 512] (the previous chunk's last 64 samples, then
the new chunk), `state` float32 [2, batch, 128] and `sr` int64 (16000), and
returns `output` [batch, 1] (the probability) and the next `state`; the
context and state are carried across chunks exactly as the package's own
`OnnxWrapper` does, so the probabilities equal those of `silero_vad`'s
streaming API. Samples that do not fill a chunk wait for the next piece:
feeding a stream in any split gives bit-identical probabilities.

`TurnDetector` adds the usual hysteresis on top (see `TurnConfig`): speech
starts at the first chunk with p >= threshold that is followed by at least
`min_speech_ms` of speech; it ends once p has stayed below the speech run's
level for `min_silence_ms`, i.e. from the first chunk with p < neg_threshold,
with only a chunk p >= threshold breaking the silence (as Silero's
`VADIterator`). Every event reports where the speech starts/ends in the
stream and the stream position at which it was decided (always later: the
detector is causal).

Accuracy (tests/eval_vad_test.py, espeak-ng speech of several voices with
0.5-1.2 s silences between utterances, default `TurnConfig`): every utterance
is one segment whose start and end lie within 4 chunks (128 ms) of the first
word's start and the last word's end (measured: within 80 ms); the end is
decided exactly `min_silence_ms` (16 chunks, 512 ms) after it; pauses under
500 ms inside a turn do not end it; quiet noise (std 0.003) is never speech.
"""

import dataclasses
import functools
import importlib.util
import math
import os

import numpy as np
import onnxruntime as ort

SAMPLE_RATE = 16000
CHUNK_SAMPLES = 512  # The model's fixed chunk at 16 kHz (32 ms).
CONTEXT_SAMPLES = 64  # Samples of the previous chunk prepended to each input.
STATE_SHAPE = (2, 1, 128)
CHUNK_MS = 1000 * CHUNK_SAMPLES / SAMPLE_RATE


def default_model_path() -> str:
  """The `silero_vad.onnx` file of the installed `silero-vad` package."""
  spec = importlib.util.find_spec("silero_vad")  # Locates the package without importing it.
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError("the silero-vad package is not installed; `pip install --no-deps "
                            "silero-vad` provides silero_vad/data/silero_vad.onnx")
  path = os.path.join(spec.submodule_search_locations[0], "data", "silero_vad.onnx")
  if not os.path.exists(path):
    raise FileNotFoundError(f"silero-vad is installed but {path} is missing")
  return path


@functools.lru_cache(maxsize=None)
def _session(path: str) -> ort.InferenceSession:
  """One onnxruntime session per model file, shared by every `SileroVad` (each keeps its own
  stream state; `run` is stateless)."""
  options = ort.SessionOptions()
  options.inter_op_num_threads = 1
  options.intra_op_num_threads = 1
  options.log_severity_level = 3  # The shipped graph has unused initializers; skip the warnings.
  return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


class SileroVad:
  """Per-chunk speech probabilities of one 16 kHz stream (see the module docstring)."""

  def __init__(self, model_path: str | None = None):
    self._session = _session(model_path or default_model_path())
    self.reset()

  def reset(self) -> None:
    """Forgets the stream: the next sample fed is sample 0 of a new one."""
    self._state = np.zeros(STATE_SHAPE, np.float32)
    self._context = np.zeros((1, CONTEXT_SAMPLES), np.float32)
    self._pending = np.zeros(0, np.float32)
    self.samples_seen = 0  # Samples fed so far, pending ones included.
    self.chunks_done = 0  # Chunks scored so far; chunk i covers samples [512 i, 512 (i + 1)).

  def feed(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 [n_chunks]: the probabilities of the chunks `samples` completes.

    Args:
      samples: float mono audio [n] in [-1, 1] (any n >= 0), continuing the stream.
      sample_rate: must be 16000 (the model's rate; resample before).

    Raises:
      ValueError: wrong rate, not 1-D, or non-finite samples; the stream is unchanged.
    """
    if sample_rate != SAMPLE_RATE:
      raise ValueError(f"Silero VAD runs at {SAMPLE_RATE} Hz here; got audio at {sample_rate} Hz "
                       "(resample it first)")
    samples = np.asarray(samples)
    if samples.ndim != 1:
      raise ValueError(f"VAD input must be mono samples of shape [n]; got shape {samples.shape}")
    if not np.issubdtype(samples.dtype, np.floating):
      raise ValueError(f"VAD input must be float samples in [-1, 1]; got dtype {samples.dtype}")
    if not np.all(np.isfinite(samples)):
      raise ValueError("VAD input has NaN or infinite samples; expected finite audio")
    buffered = np.concatenate([self._pending, samples.astype(np.float32)])
    n_chunks = len(buffered) // CHUNK_SAMPLES
    probs = np.empty(n_chunks, np.float32)
    sr = np.array(SAMPLE_RATE, np.int64)
    for i in range(n_chunks):
      chunk = buffered[None, i * CHUNK_SAMPLES:(i + 1) * CHUNK_SAMPLES]
      window = np.concatenate([self._context, chunk], axis=1)  # [1, 576]
      out, self._state = self._session.run(None, {"input": window, "state": self._state, "sr": sr})
      self._context = window[:, -CONTEXT_SAMPLES:]
      probs[i] = out[0, 0]
    self._pending = buffered[n_chunks * CHUNK_SAMPLES:]
    self.samples_seen += len(samples)
    self.chunks_done += n_chunks
    return probs


@dataclasses.dataclass(frozen=True)
class TurnConfig:
  """Hysteresis and timing of `TurnDetector`.

  threshold: speech is (re)detected in a chunk with probability >= this
    (Silero's default 0.5).
  neg_threshold: silence starts in a chunk with probability < this; None means
    threshold - 0.15 (Silero's default). Probabilities in between keep the
    current state.
  min_silence_ms: the end of a speech segment is declared once silence has
    lasted this long (rounded up to whole 32 ms chunks). 500 ms is the default
    silence duration of OpenAI's Realtime `server_vad` turn detection; shorter
    pauses (between sentences, at commas) stay inside the turn.
  min_speech_ms: a speech run shorter than this (rounded up to whole chunks),
    i.e. one that falls back below neg_threshold earlier, is ignored (clicks,
    breaths). 0 keeps every run.
  """
  threshold: float = 0.5
  neg_threshold: float | None = None
  min_silence_ms: float = 500.0
  min_speech_ms: float = 64.0

  def __post_init__(self):
    if not 0 < self.threshold < 1:
      raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
    if not 0 < self.negative <= self.threshold:
      raise ValueError(f"neg_threshold must be in (0, threshold={self.threshold}], "
                       f"got {self.negative}")
    if self.min_silence_ms <= 0 or self.min_speech_ms < 0:
      raise ValueError(f"need min_silence_ms > 0 and min_speech_ms >= 0, got "
                       f"{self.min_silence_ms} and {self.min_speech_ms}")

  @property
  def negative(self) -> float:
    return self.threshold - 0.15 if self.neg_threshold is None else self.neg_threshold

  @property
  def silence_chunks(self) -> int:
    return max(1, math.ceil(self.min_silence_ms / CHUNK_MS))

  @property
  def speech_chunks(self) -> int:
    return max(1, math.ceil(self.min_speech_ms / CHUNK_MS))


@dataclasses.dataclass(frozen=True)
class VadEvent:
  """Speech started or ended.

  kind: "start" or "end".
  sample: where in the stream: the first sample of the first speech chunk, or
    the first sample of the first silent chunk after the speech.
  detected_sample: the stream position when the detector decided (the end of
    the chunk that confirmed it); always > sample.
  """
  kind: str
  sample: int
  detected_sample: int

  def ms(self, sample_rate: int = SAMPLE_RATE) -> float:
    return 1000 * self.sample / sample_rate

  def detected_ms(self, sample_rate: int = SAMPLE_RATE) -> float:
    return 1000 * self.detected_sample / sample_rate


class TurnDetector:
  """Speech segments and their ends, causally, from a 16 kHz stream fed in pieces."""

  def __init__(self, config: TurnConfig = TurnConfig(), vad: SileroVad | None = None):
    self.config = config
    self.vad = vad or SileroVad()
    self.reset()

  def reset(self) -> None:
    self.vad.reset()
    self.in_speech = False  # A confirmed speech segment is open.
    self.probs: list[float] = []  # Every chunk's probability so far.
    self._run_start = None  # Chunk index where an unconfirmed speech run began.
    self._silence_start = None  # Chunk index where the current silence began (in speech).

  def feed(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[VadEvent]:
    """The events decided by the chunks `samples` completes, in order (see `SileroVad.feed`)."""
    first = self.vad.chunks_done
    events = []
    for i, p in enumerate(self.vad.feed(samples, sample_rate), start=first):
      self.probs.append(float(p))
      event = self._step(i, float(p))
      if event is not None:
        events.append(event)
    return events

  def _step(self, i: int, p: float) -> VadEvent | None:
    cfg = self.config
    decided = (i + 1) * CHUNK_SAMPLES
    if not self.in_speech:
      if self._run_start is None and p >= cfg.threshold:
        self._run_start = i
      elif self._run_start is not None and p < cfg.negative:
        self._run_start = None  # Too short: dropped.
      if self._run_start is not None and i + 1 - self._run_start >= cfg.speech_chunks:
        self.in_speech, start, self._run_start = True, self._run_start, None
        return VadEvent("start", start * CHUNK_SAMPLES, decided)
      return None
    if p >= cfg.threshold:
      self._silence_start = None
    elif p < cfg.negative and self._silence_start is None:
      self._silence_start = i
    if self._silence_start is not None and i + 1 - self._silence_start >= cfg.silence_chunks:
      self.in_speech, end, self._silence_start = False, self._silence_start, None
      return VadEvent("end", end * CHUNK_SAMPLES, decided)
    return None
