"""Audio front end: 16 kHz waveform → log10 mel → dMel codes, and back for listening.

Framing convention (causal, so a tick's frames never wait for the next tick):
frame i analyses the `win_length` samples that END at sample (i + 1) * hop,
i.e. `wave[(i + 1) * hop - win_length : (i + 1) * hop]`, Hann-windowed and
zero-padded to `n_fft` for the FFT. Samples before the start of the wave come
from `context` (the previous `win_length - hop` samples of the stream), or are
zeros. A wave of N samples (N a multiple of hop) gives exactly N / hop frames,
so with the default 25 ms hop a 200 ms tick is exactly 8 frames, and running
`log_mel` tick by tick with each tick's context equals one call over the whole
wave.

This equals librosa's `melspectrogram(y=pad(wave, ((n_fft + win_length) // 2 -
hop, (n_fft - win_length) // 2)), center=False, power=1.0, ...)`: librosa
centres the window in the n_fft buffer, which shifts the phase but not the
magnitude.

Numerics: spectra are computed in float64 with numpy and returned as float32;
the result depends only on the samples in a frame's window (no batch effects).
"""

import dataclasses

import numpy as np

DMEL_BINS = 16
DMEL_MIN = -7.0
DMEL_MAX = 2.0
DMEL_STEP = (DMEL_MAX - DMEL_MIN) / (DMEL_BINS - 1)


@dataclasses.dataclass(frozen=True)
class MelSpec:
  """Parameters of the log-mel front end (the dMel recipe's defaults)."""
  sample_rate: int = 16000
  n_mels: int = 80
  fmin: float = 80.0
  fmax: float = 7600.0
  window_ms: float = 50.0
  hop_ms: float = 25.0
  n_fft: int = 1024
  log_floor: float = 1e-10  # mel magnitudes are clamped here before log10.

  @property
  def win_length(self) -> int:
    return _ms_to_samples(self.window_ms, self.sample_rate, "window_ms")

  @property
  def hop_length(self) -> int:
    return _ms_to_samples(self.hop_ms, self.sample_rate, "hop_ms")

  @property
  def context_samples(self) -> int:
    """How many past samples the first frame of a chunk looks at."""
    return self.win_length - self.hop_length

  def frames_per(self, duration_ms: float) -> int:
    """Frames in `duration_ms`; a ValueError unless the hop tiles it exactly."""
    samples = _ms_to_samples(duration_ms, self.sample_rate, "duration")
    if samples % self.hop_length:
      raise ValueError(f"{duration_ms} ms ({samples} samples) is not a whole number of "
                       f"{self.hop_ms} ms hops ({self.hop_length} samples)")
    return samples // self.hop_length


DEFAULT_SPEC = MelSpec()


def _ms_to_samples(ms: float, sample_rate: int, what: str) -> int:
  samples = ms * sample_rate / 1000
  if samples != int(samples) or samples <= 0:
    raise ValueError(f"{what}={ms} ms is not a positive whole number of samples at {sample_rate} Hz")
  return int(samples)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
  """Slaney's mel scale: linear up to 1 kHz (3 mel per 200 Hz), logarithmic above."""
  hz = np.asarray(hz, dtype=np.float64)
  linear = hz * 3.0 / 200.0
  log_step = np.log(6.4) / 27.0
  above = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step
  return np.where(hz >= 1000.0, above, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
  mel = np.asarray(mel, dtype=np.float64)
  log_step = np.log(6.4) / 27.0
  return np.where(mel >= 15.0, 1000.0 * np.exp(log_step * (mel - 15.0)), mel * 200.0 / 3.0)


def mel_filterbank(spec: MelSpec = DEFAULT_SPEC) -> np.ndarray:
  """float64 `[n_mels, n_fft // 2 + 1]`: triangular filters on the Slaney mel
  scale, each scaled to unit area in Hz (Slaney normalization), the same
  filters as `librosa.filters.mel(htk=False, norm="slaney")`."""
  fft_hz = np.linspace(0.0, spec.sample_rate / 2, spec.n_fft // 2 + 1)
  edges_hz = _mel_to_hz(np.linspace(_hz_to_mel(spec.fmin), _hz_to_mel(spec.fmax), spec.n_mels + 2))
  lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
  rising = (fft_hz[None, :] - lower) / (centre - lower)
  falling = (upper - fft_hz[None, :]) / (upper - centre)
  triangles = np.maximum(0.0, np.minimum(rising, falling))
  return triangles * (2.0 / (upper - lower))


def _hann(length: int) -> np.ndarray:
  """Periodic Hann window (the usual choice for STFT analysis)."""
  return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


def check_wave(wave: np.ndarray, sample_rate: int, spec: MelSpec = DEFAULT_SPEC) -> np.ndarray:
  """Validates a mono waveform and returns it as float64 `[n_samples]`."""
  if sample_rate != spec.sample_rate:
    raise ValueError(f"audio must be sampled at {spec.sample_rate} Hz, got {sample_rate} Hz; "
                     "resample it first")
  if not isinstance(wave, np.ndarray) or wave.ndim != 1:
    shape = getattr(wave, "shape", type(wave).__name__)
    raise ValueError(f"audio must be a 1-D numpy array of samples (mono), got {shape}")
  if not np.issubdtype(wave.dtype, np.floating):
    raise ValueError(f"audio samples must be float32/float64 in [-1, 1], got dtype {wave.dtype}")
  if not np.all(np.isfinite(wave)):
    bad = int(np.flatnonzero(~np.isfinite(wave))[0])
    raise ValueError(f"audio has non-finite samples (first at index {bad}); expected finite values")
  return wave.astype(np.float64)


def pad_to_multiple(wave: np.ndarray, multiple: int) -> np.ndarray:
  """Appends zeros so len(wave) is a multiple of `multiple` (e.g. a tick's samples)."""
  return np.pad(wave, (0, -len(wave) % multiple))


def _frame_spectra(wave: np.ndarray, context: np.ndarray, spec: MelSpec) -> np.ndarray:
  """complex128 `[frames, n_fft // 2 + 1]` under the causal framing convention."""
  win, hop = spec.win_length, spec.hop_length
  padded = np.concatenate([context, wave])
  n_frames = len(wave) // hop
  starts = hop * np.arange(n_frames)  # frame i starts at (i+1)*hop - win in wave coordinates.
  segments = padded[starts[:, None] + np.arange(win)[None, :]] * _hann(win)
  return np.fft.rfft(segments, n=spec.n_fft, axis=-1)


def log_mel(wave: np.ndarray, sample_rate: int, *, context: np.ndarray | None = None,
            spec: MelSpec = DEFAULT_SPEC) -> np.ndarray:
  """float32 `[n_samples / hop, n_mels]` log10 mel magnitudes of a 16 kHz wave.

  Args:
    wave: float `[n_samples]`, n_samples a multiple of the hop (400 by default).
    sample_rate: must equal spec.sample_rate.
    context: the `spec.context_samples` samples that precede `wave` in the
      stream (zeros when None), so chunked calls equal one call on the whole.
  """
  samples = check_wave(wave, sample_rate, spec)
  if len(samples) % spec.hop_length:
    raise ValueError(f"audio length {len(samples)} is not a multiple of the {spec.hop_length}-sample "
                     "hop; pad it (data_pipelines.audio.pad_to_multiple) to whole frames")
  if context is None:
    context = np.zeros(spec.context_samples)
  else:
    if getattr(context, "shape", None) != (spec.context_samples,):
      raise ValueError(f"context must be the previous {spec.context_samples} samples, "
                       f"got shape {getattr(context, 'shape', None)}")
    context = check_wave(context, sample_rate, spec)
  magnitude = np.abs(_frame_spectra(samples, context, spec))
  mel = magnitude @ mel_filterbank(spec).T
  return np.log10(np.maximum(mel, spec.log_floor)).astype(np.float32)


def dmel_encode(log_mel_frames: np.ndarray) -> np.ndarray:
  """log10 mel → int32 dMel codes in [0, 16), same shape.

  Values are clamped to [DMEL_MIN, DMEL_MAX] and mapped to the nearest of the
  16 evenly spaced bin values (a tie goes to the lower bin).
  """
  values = np.asarray(log_mel_frames)
  if not np.issubdtype(values.dtype, np.floating):
    raise ValueError(f"dmel_encode expects float log-mel values, got dtype {values.dtype}")
  if not np.all(np.isfinite(values)):
    raise ValueError("dmel_encode got non-finite log-mel values; expected finite floats")
  position = (np.clip(values.astype(np.float64), DMEL_MIN, DMEL_MAX) - DMEL_MIN) / DMEL_STEP
  return np.ceil(position - 0.5).astype(np.int32)


def check_codes(codes: np.ndarray) -> np.ndarray:
  """Returns `codes` as an array; a ValueError unless they are integers in [0, DMEL_BINS)."""
  codes = np.asarray(codes)
  if not np.issubdtype(codes.dtype, np.integer):
    raise ValueError(f"dMel codes must be integers, got dtype {codes.dtype}")
  if codes.size and (codes.min() < 0 or codes.max() >= DMEL_BINS):
    raise ValueError(f"dMel codes must lie in [0, {DMEL_BINS}), got values in "
                     f"[{codes.min()}, {codes.max()}]")
  return codes


def dmel_decode(codes: np.ndarray) -> np.ndarray:
  """dMel codes → float32 bin values (log10 mel), same shape."""
  codes = check_codes(codes)
  return (DMEL_MIN + DMEL_STEP * codes.astype(np.float64)).astype(np.float32)


def _overlap_add(spectra: np.ndarray, spec: MelSpec) -> np.ndarray:
  """Least-squares inverse of `_frame_spectra` (with zero context): `[frames * hop]`."""
  win, hop = spec.win_length, spec.hop_length
  window = _hann(win)
  segments = np.fft.irfft(spectra, n=spec.n_fft, axis=-1)[:, :win] * window
  n_frames = len(spectra)
  total = (n_frames - 1) * hop + win
  signal = np.zeros(total)
  weight = np.zeros(total)
  for i in range(n_frames):
    signal[i * hop:i * hop + win] += segments[i]
    weight[i * hop:i * hop + win] += window ** 2
  signal /= np.maximum(weight, 1e-8)
  return signal[spec.context_samples:]


def griffin_lim(log_mel_frames: np.ndarray, *, n_iter: int = 48, momentum: float = 0.99,
                seed: int = 0, spec: MelSpec = DEFAULT_SPEC) -> np.ndarray:
  """float32 waveform `[frames * hop]` whose log-mel approximates the input.

  For listening and plots, not a vocoder: magnitudes are recovered with the
  filterbank's pseudo-inverse (clipped at 0) and phases with fast Griffin-Lim
  (momentum `momentum`, `n_iter` iterations) from seeded random phases, so the
  result is deterministic for the same arguments.
  """
  frames = np.asarray(log_mel_frames)
  if frames.ndim != 2 or frames.shape[1] != spec.n_mels:
    raise ValueError(f"griffin_lim expects log-mel [frames, {spec.n_mels}], got {frames.shape}")
  if not np.all(np.isfinite(frames)):
    raise ValueError("griffin_lim got non-finite log-mel values; expected finite floats")
  if n_iter < 1:
    raise ValueError(f"n_iter must be >= 1, got {n_iter}")
  mel = 10.0 ** frames.astype(np.float64)
  magnitude = np.maximum(mel @ np.linalg.pinv(mel_filterbank(spec)).T, 0.0)
  rng = np.random.default_rng(seed)
  phase = np.exp(2j * np.pi * rng.random(magnitude.shape))
  previous = np.zeros_like(phase)
  zero_context = np.zeros(spec.context_samples)
  for _ in range(n_iter):
    projected = _frame_spectra(_overlap_add(magnitude * phase, spec), zero_context, spec)
    accelerated = projected + momentum * (projected - previous)
    previous = projected
    phase = accelerated / np.maximum(np.abs(accelerated), 1e-12)
  return _overlap_add(magnitude * phase, spec).astype(np.float32)


class LogMelStream:
  """Log-mel of a live stream, chunk by chunk, equal to `log_mel` of the whole.

  Each `push` takes the next chunk (a whole number of hops, e.g. one tick's
  3200 samples) and returns its frames, carrying the last
  `spec.context_samples` samples over to the next chunk.
  """

  def __init__(self, spec: MelSpec = DEFAULT_SPEC):
    self.spec = spec
    self._context = np.zeros(spec.context_samples)

  def push(self, chunk: np.ndarray, sample_rate: int) -> np.ndarray:
    """float32 `[len(chunk) / hop, n_mels]` frames of the next chunk."""
    frames = log_mel(chunk, sample_rate, context=self._context, spec=self.spec)
    self._context = np.concatenate([self._context, chunk.astype(np.float64)])[-self.spec.context_samples:]
    return frames
