"""Audio front end: log-mel against librosa, dMel codes, streaming, Griffin-Lim."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized
import librosa
import numpy as np

from data_pipelines import audio

SPEC = audio.DEFAULT_SPEC


def _test_wave(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
  """A chirp plus a harmonic tone plus noise: energy across the mel range."""
  rng = np.random.default_rng(seed)
  t = np.arange(int(seconds * SPEC.sample_rate)) / SPEC.sample_rate
  chirp = 0.3 * np.sin(2 * np.pi * (100 * t + 3000 * t ** 2))
  tone = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 660 * t)
  return (chirp + tone + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def _librosa_log_mel(wave: np.ndarray, spec: audio.MelSpec = SPEC) -> np.ndarray:
  """The documented librosa equivalent of our causal framing."""
  padded = np.pad(wave, ((spec.n_fft + spec.win_length) // 2 - spec.hop_length,
                         (spec.n_fft - spec.win_length) // 2))
  mel = librosa.feature.melspectrogram(
      y=padded, sr=spec.sample_rate, n_fft=spec.n_fft, hop_length=spec.hop_length,
      win_length=spec.win_length, window="hann", center=False, power=1.0,
      n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax)
  return np.log10(np.maximum(mel, spec.log_floor)).T


class MelSpecTest(absltest.TestCase):

  def test_default_tiles_a_tick_in_eight_frames(self):
    self.assertEqual(SPEC.win_length, 800)
    self.assertEqual(SPEC.hop_length, 400)
    self.assertEqual(SPEC.frames_per(200), 8)

  def test_hop_that_does_not_tile_is_an_error(self):
    with self.assertRaisesRegex(ValueError, "not a whole number of"):
      SPEC.frames_per(210)

  def test_filterbank_matches_librosa(self):
    ours = audio.mel_filterbank(SPEC)
    ref = librosa.filters.mel(sr=SPEC.sample_rate, n_fft=SPEC.n_fft, n_mels=SPEC.n_mels,
                              fmin=SPEC.fmin, fmax=SPEC.fmax, dtype=np.float64)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


class LogMelTest(parameterized.TestCase):

  @parameterized.parameters(0, 1, 2)
  def test_matches_librosa(self, seed):
    wave = _test_wave(seed=seed)
    ours = audio.log_mel(wave, 16000)
    ref = _librosa_log_mel(wave)
    self.assertEqual(ours.shape, (40, 80))
    self.assertEqual(ours.dtype, np.float32)
    # librosa computes the STFT in float32 (eps ~1.2e-7); in log10 units a
    # relative error r is r / ln(10), so 1e-4 leaves ample room for float32
    # rounding of the spectra while catching any framing or filter mistake.
    np.testing.assert_allclose(ours, ref, atol=1e-4)

  def test_other_spec_matches_librosa(self):
    spec = audio.MelSpec(hop_ms=12.5, n_mels=40, fmax=8000.0)
    wave = _test_wave(0.4)
    np.testing.assert_allclose(audio.log_mel(wave, 16000, spec=spec),
                               _librosa_log_mel(wave, spec), atol=1e-4)

  def test_is_causal(self):
    wave = _test_wave()
    changed = wave.copy()
    changed[3200:] = 0.0  # Everything after the first tick.
    np.testing.assert_array_equal(audio.log_mel(wave, 16000)[:8],
                                  audio.log_mel(changed, 16000)[:8])

  @parameterized.parameters(400, 1200, 3200, 8000)
  def test_chunked_equals_whole(self, chunk):
    wave = _test_wave()
    whole = audio.log_mel(wave, 16000)
    stream = audio.LogMelStream()
    pieces = [stream.push(wave[i:i + chunk], 16000) for i in range(0, wave.size, chunk)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)

  def test_silence_is_floor(self):
    frames = audio.log_mel(np.zeros(3200, np.float32), 16000)
    np.testing.assert_array_equal(frames, np.float32(np.log10(SPEC.log_floor)))

  def test_bad_inputs(self):
    wave = _test_wave(0.2)
    with self.assertRaisesRegex(ValueError, "16000 Hz, got 22050"):
      audio.log_mel(wave, 22050)
    nan_wave = wave.copy()
    nan_wave[17] = np.nan
    with self.assertRaisesRegex(ValueError, "non-finite samples.*index 17"):
      audio.log_mel(nan_wave, 16000)
    with self.assertRaisesRegex(ValueError, "1-D"):
      audio.log_mel(np.stack([wave, wave]), 16000)
    with self.assertRaisesRegex(ValueError, "dtype int16"):
      audio.log_mel((wave * 1000).astype(np.int16), 16000)
    with self.assertRaisesRegex(ValueError, "not a multiple of the 400-sample hop"):
      audio.log_mel(wave[:-1], 16000)
    with self.assertRaisesRegex(ValueError, "previous 400 samples"):
      audio.log_mel(wave, 16000, context=np.zeros(10))

  def test_pad_to_multiple(self):
    self.assertLen(audio.pad_to_multiple(np.ones(3201), 3200), 6400)
    self.assertLen(audio.pad_to_multiple(np.ones(3200), 3200), 3200)


class DMelTest(parameterized.TestCase):

  def test_bin_values(self):
    values = audio.dmel_decode(np.arange(16))
    np.testing.assert_allclose(values, np.linspace(-7.0, 2.0, 16), atol=1e-6)

  def test_encode_is_nearest_bin_with_clamping(self):
    rng = np.random.default_rng(0)
    x = rng.uniform(-10.0, 5.0, size=(200, 80)).astype(np.float32)
    codes = audio.dmel_encode(x)
    grid = np.linspace(-7.0, 2.0, 16)
    nearest = np.argmin(np.abs(np.clip(x, -7, 2)[..., None] - grid), axis=-1)
    np.testing.assert_array_equal(codes, nearest)
    self.assertEqual(codes.dtype, np.int32)
    self.assertEqual((codes.min(), codes.max()), (0, 15))

  def test_round_trip_error_is_half_a_step(self):
    x = np.random.default_rng(1).uniform(-7.0, 2.0, size=1000)
    error = np.abs(audio.dmel_decode(audio.dmel_encode(x)) - x)
    self.assertLessEqual(error.max(), audio.DMEL_STEP / 2 + 1e-6)

  def test_bad_inputs(self):
    with self.assertRaisesRegex(ValueError, "non-finite"):
      audio.dmel_encode(np.array([0.0, np.inf]))
    with self.assertRaisesRegex(ValueError, "float"):
      audio.dmel_encode(np.array([1, 2]))
    with self.assertRaisesRegex(ValueError, r"\[0, 16\)"):
      audio.dmel_decode(np.array([3, 16]))
    with self.assertRaisesRegex(ValueError, "integers"):
      audio.dmel_decode(np.array([0.5]))


class GriffinLimTest(absltest.TestCase):

  def test_reconstruction_has_the_same_mel(self):
    wave = _test_wave()
    frames = audio.log_mel(wave, 16000)
    rebuilt = audio.griffin_lim(frames)
    self.assertEqual(rebuilt.shape, wave.shape)
    self.assertEqual(rebuilt.dtype, np.float32)
    loud = frames > -1.0
    error = np.abs(audio.log_mel(rebuilt, 16000) - frames)[loud]
    # Phase retrieval is approximate; a mean log10 error of 0.1 is a 26%
    # magnitude error, while a wrong framing or filterbank inversion gives ~1.
    self.assertLess(error.mean(), 0.1)

  def test_deterministic(self):
    frames = audio.log_mel(_test_wave(0.4), 16000)
    np.testing.assert_array_equal(audio.griffin_lim(frames, n_iter=4),
                                  audio.griffin_lim(frames, n_iter=4))

  def test_bad_inputs(self):
    with self.assertRaisesRegex(ValueError, r"\[frames, 80\]"):
      audio.griffin_lim(np.zeros((8, 79)))
    with self.assertRaisesRegex(ValueError, "non-finite"):
      audio.griffin_lim(np.full((8, 80), np.nan))


if __name__ == "__main__":
  absltest.main()
