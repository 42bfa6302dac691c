"""espeak speech: 16 kHz audio, word timings, determinism, voices and errors."""

from tests import testing  # isort: skip  (must configure JAX first)

import ctypes
import hashlib
import os
import subprocess
import sys
import threading

from absl.testing import absltest
from absl.testing import parameterized
import espeakng_loader
import librosa
import numpy as np

from data_pipelines import speech

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PANGRAM = "The quick brown fox jumps over the lazy dog."


def fingerprint(s: speech.Speech) -> tuple[str, tuple[speech.WordTiming, ...]]:
  return hashlib.sha256(s.audio.tobytes()).hexdigest(), s.words


def voiced_f0(audio: np.ndarray) -> np.ndarray:
  """Pitch in Hz of the loud (voiced) 64 ms frames: [n_voiced_frames]."""
  x = audio.astype(np.float64)
  f0 = librosa.yin(x, fmin=60, fmax=500, sr=16000, frame_length=1024, hop_length=256)
  rms = librosa.feature.rms(y=x, frame_length=1024, hop_length=256)[0]  # [n_frames]
  n = min(len(f0), len(rms))
  return f0[:n][rms[:n] > 0.3 * rms.max()]


class SpeechTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.reference = speech.synthesize(PANGRAM)

  def assert_still_working(self):
    """The module still works and gives the same bits as before."""
    self.assertEqual(fingerprint(speech.synthesize(PANGRAM)), fingerprint(self.reference))

  def test_audio_format(self):
    s = self.reference
    self.assertEqual(s.sample_rate, 16000)
    self.assertEqual(speech.SAMPLE_RATE, 16000)
    self.assertEqual(s.audio.dtype, np.float32)
    self.assertEqual(s.audio.ndim, 1)
    self.assertTrue(np.all(np.isfinite(s.audio)))
    self.assertLessEqual(float(np.abs(s.audio).max()), 1.0)
    self.assertGreater(float(np.abs(s.audio).max()), 0.1)
    self.assertGreater(float(np.sqrt(np.mean(s.audio**2))), 0.01)
    self.assertFalse(s.audio.flags.writeable)
    self.assertEqual(s.text, PANGRAM)

  def test_duration_is_plausible(self):
    # 9 words at 175 words per minute is about 3 s.
    self.assertBetween(self.reference.duration_s, 2.0, 4.0)
    self.assertEqual(self.reference.duration_s, len(self.reference.audio) / 16000)

  @parameterized.named_parameters(
      ("plain", PANGRAM, "The quick brown fox jumps over the lazy dog".split()),
      (
          "punctuation",
          "Hello, world. How are you? (Fine!) Don't stop—ever.",
          ["Hello", "world", "How", "are", "you", "Fine", "Don't", "stop—ever"],
      ),
      (
          "non_ascii",
          "Café naïve résumé, über façade.",
          ["Café", "naïve", "résumé", "über", "façade"],
      ),
      ("astral_emoji", "smile 😀 now", ["smile", "😀", "now"]),
      (
          "numbers_and_symbols",
          "I paid $5 & 50% more at 10:30.",
          ["I", "paid", "$5", "&", "50", "more", "at", "10:30"],
      ),
      ("whitespace", "  line one\nline two\n\n\tend  ", ["line", "one", "line", "two", "end"]),
      # espeak reports "roll" at the hyphen; the word gets its event back.
      ("spaced_hyphen", "rock - roll", ["rock", "roll"]),
      ("spoken_dash_is_no_word", "one — two", ["one", "two"]),
  )
  def test_word_timings(self, text, expected_words):
    s = speech.synthesize(text)
    self.assertEqual([w.text for w in s.words], expected_words)
    previous_end = 0
    for w in s.words:
      self.assertEqual(text[w.char_start : w.char_end], w.text)
      self.assertGreaterEqual(w.start_sample, previous_end)
      self.assertLess(w.start_sample, w.end_sample)
      self.assertLessEqual(w.end_sample, len(s.audio))
      self.assertEqual(w.start_s, w.start_sample / 16000)
      self.assertEqual(w.end_s, w.end_sample / 16000)
      previous_end = w.end_sample

  def test_words_hold_speech_and_pauses_hold_silence(self):
    s = speech.synthesize("Hello, world. How are you? I am fine.")
    in_word = np.zeros(len(s.audio), bool)
    for w in s.words:
      in_word[w.start_sample : w.end_sample] = True
    pauses = s.audio[~in_word]
    # The comma and two sentence pauses add up to at least 0.3 s.
    self.assertGreater(len(pauses), 0.3 * 16000)
    pause_rms = float(np.sqrt(np.mean(pauses**2)))
    self.assertLess(pause_rms, 1e-3)
    for w in s.words:
      segment = s.audio[w.start_sample : w.end_sample]
      self.assertGreater(float(np.sqrt(np.mean(segment**2))), 30 * pause_rms, w)

  def test_alignment_rules_on_synthetic_events(self):
    audio_22k = np.zeros(3000, np.int16)  # loud in [0, 500), [1000, 1400), [2000, 2500)
    audio_22k[:500] = audio_22k[1000:1400] = audio_22k[2000:2500] = 1000
    word, sentence, end = 1, 2, 5  # espeak event types
    events = [
        (sentence, 1, 0),
        (word, 1, 0),
        (word, 3, 1000),  # at the blank before "bb": belongs to "bb"
        (word, 8, 2000),  # "cc" starts where "dd" does, so it holds no audio
        (word, 11, 2000),
        (end, 14, 3000),
    ]
    to_16k = lambda i: round(i * 16000 / 22050)
    self.assertEqual(
        speech._align_words("aa  bb cc dd.", audio_22k, events),  # pylint: disable=protected-access
        (
            speech.WordTiming("aa", 0, 2, 0, to_16k(500)),
            speech.WordTiming("bb", 4, 6, to_16k(1000), to_16k(1400)),
            speech.WordTiming("dd", 10, 12, to_16k(2000), to_16k(2500)),
        ),
    )

  def test_same_call_is_bit_identical(self):
    a = speech.synthesize(PANGRAM, voice="en-gb+f3", rate=200, pitch=60)
    b = speech.synthesize(PANGRAM, voice="en-gb+f3", rate=200, pitch=60)
    self.assertEqual(fingerprint(a), fingerprint(b))
    np.testing.assert_array_equal(a.audio, b.audio)

  def test_earlier_calls_do_not_leak_into_later_ones(self):
    for voice, rate, pitch, pitch_range, word_gap in [
        ("fr", 300, 90, 10, 5),
        ("en-us+whisper", 80, 0, 100, 0),
        ("en-us+klatt", 450, 100, 0, 20),
    ]:
      speech.synthesize(
          "Something else, 42!", voice=voice, rate=rate, pitch=pitch,
          pitch_range=pitch_range, word_gap=word_gap,
      )  # fmt: skip
      self.assert_still_working()

  def test_matches_a_fresh_process(self):
    speech.synthesize("Warm up with another voice.", voice="de", rate=400)
    here = speech.synthesize(PANGRAM, voice="en-us+f3")
    code = (
        "import hashlib; from data_pipelines import speech; "
        f"s = speech.synthesize({PANGRAM!r}, voice='en-us+f3'); "
        "print(hashlib.sha256(s.audio.tobytes()).hexdigest()); print(repr(s.words))"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO_ROOT, env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(result.stdout.splitlines(), [fingerprint(here)[0], repr(here.words)])

  def test_threads_get_the_same_results_as_sequential_calls(self):
    jobs = [
        dict(voice="en-us", rate=150),
        dict(voice="en-gb+m3", pitch=70),
        dict(voice="es", rate=250),
    ] * 2
    expected = [fingerprint(speech.synthesize(PANGRAM, **job)) for job in jobs]
    results = [None] * len(jobs)

    def run(i):
      results[i] = fingerprint(speech.synthesize(PANGRAM, **jobs[i]))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
      t.start()
    for t in threads:
      t.join()
    self.assertEqual(results, expected)

  def test_rate_changes_duration(self):
    durations = [speech.synthesize(PANGRAM, rate=r).duration_s for r in (80, 175, 450)]
    self.assertGreater(durations[0], 1.5 * durations[1])
    self.assertGreater(durations[1], 1.5 * durations[2])

  def test_word_gap_adds_pauses(self):
    gapped = speech.synthesize(PANGRAM, word_gap=20)
    # 8 gaps of about 200 ms each.
    self.assertGreater(gapped.duration_s, self.reference.duration_s + 8 * 0.15)

  def test_pitch_raises_f0(self):
    f0 = [np.median(voiced_f0(speech.synthesize(PANGRAM, pitch=p).audio)) for p in (10, 50, 90)]
    self.assertLess(f0[0], f0[1])
    self.assertLess(f0[1], f0[2])
    self.assertBetween(f0[1], 70, 150)  # the default male voice

  def test_pitch_range_widens_intonation(self):
    spreads = []
    for pitch_range in (0, 100):
      f0 = voiced_f0(speech.synthesize(PANGRAM, pitch_range=pitch_range).audio)
      spreads.append(np.percentile(f0, 90) - np.percentile(f0, 10))
    self.assertLess(spreads[0], spreads[1])

  @parameterized.parameters(
      ("en-us", PANGRAM),
      ("en-gb", PANGRAM),
      ("en+f3", PANGRAM),
      ("en-us+m3", PANGRAM),
      ("en-us+klatt", PANGRAM),
      ("en-us+Reed", PANGRAM),  # speechPlayer, whose noise uses libc's rand()
      ("fr", "Bonjour, comment allez-vous aujourd'hui ?"),
      ("de", "Guten Morgen, wie geht es Ihnen?"),
      ("es", "Buenos días, ¿cómo estás?"),
  )
  def test_voice_speaks(self, voice, text):
    s = speech.synthesize(text, voice=voice)
    self.assertGreater(float(np.abs(s.audio).max()), 0.05)
    spoken = [token.strip(",.?¿") for token in text.split() if token != "?"]
    self.assertEqual([w.text for w in s.words], spoken)
    self.assertEqual(fingerprint(s), fingerprint(speech.synthesize(text, voice=voice)))

  def test_voices_differ(self):
    voices = ("en-us", "en-gb", "en-us+f3")
    hashes = {fingerprint(speech.synthesize(PANGRAM, voice=v))[0] for v in voices}
    self.assertLen(hashes, len(voices))

  def test_voice_spellings(self):
    expected = fingerprint(speech.synthesize(PANGRAM, voice="en-us+f3"))
    for spelling in ("EN-US+F3", "gmw/en-US+f3", " en-us + f3 "):
      self.assertEqual(fingerprint(speech.synthesize(PANGRAM, voice=spelling)), expected, spelling)
    self.assertEqual(
        fingerprint(speech.synthesize(PANGRAM, voice="en")),
        fingerprint(speech.synthesize(PANGRAM, voice="en-gb")),
    )

  def test_catalogue(self):
    voices = speech.list_voices()
    self.assertContainsSubset(["en-us", "en-gb", "fr-fr", "de", "es"], voices)
    self.assertEqual(list(voices), sorted(voices))
    self.assertNotIn("fo", voices)  # listed by espeak, but the wheel lacks its dictionary
    self.assertContainsSubset(["f3", "m3", "klatt", "whisper", "Reed"], speech.list_variants())
    self.assertTrue(speech.espeak_version().startswith("1.52"), speech.espeak_version())

  @parameterized.named_parameters(
      ("empty_text", dict(text=""), r"text must contain something to speak"),
      ("blank_text", dict(text=" \n\t"), r"text must contain something to speak"),
      ("bytes_text", dict(text=b"hello"), r"text must be a str, got bytes"),
      ("none_text", dict(text=None), r"text must be a str, got NoneType"),
      ("nul_in_text", dict(text="hello\0world"), r"NUL"),
      ("lone_surrogate", dict(text="hello \ud800"), r"valid Unicode"),
      ("nothing_to_speak", dict(text="?! ..."), r"no word to speak in text '\?! \.\.\.'"),
      ("unknown_voice", dict(voice="xx-nowhere"), r"unknown espeak voice 'xx-nowhere'.*'en-us'"),
      ("variant_alone", dict(voice="f3"), r"unknown espeak voice 'f3'"),
      ("unknown_variant", dict(voice="en-us+nope"), r"unknown espeak voice variant 'nope'.*f3"),
      ("two_variants", dict(voice="en-us+f3+m1"), r"variant 'f3\+m1'.*one variant"),
      ("voice_not_str", dict(voice=3), r"voice must be a str"),
      ("missing_dictionary", dict(voice="fo"), r"unknown espeak voice 'fo'"),
      ("rate_low", dict(rate=79), r"rate must be in \[80, 450\], got 79"),
      ("rate_high", dict(rate=451), r"rate must be in \[80, 450\], got 451"),
      ("rate_float", dict(rate=175.0), r"rate must be an integer in \[80, 450\], got 175.0"),
      ("rate_bool", dict(rate=True), r"rate must be an integer"),
      ("rate_str", dict(rate="175"), r"rate must be an integer"),
      ("pitch_low", dict(pitch=-1), r"pitch must be in \[0, 100\], got -1"),
      ("pitch_high", dict(pitch=101), r"pitch must be in \[0, 100\], got 101"),
      ("pitch_range_high", dict(pitch_range=101), r"pitch_range must be in \[0, 100\]"),
      ("word_gap_negative", dict(word_gap=-1), r"word_gap must be in \[0, 200\]"),
  )
  def test_bad_input_is_a_clear_error_and_harmless(self, kwargs, message):
    options = dict(kwargs)
    text = options.pop("text", PANGRAM)
    with self.assertRaisesRegex(ValueError, message):
      speech.synthesize(text, **options)
    self.assert_still_working()

  def test_refuses_a_library_that_other_code_holds(self):
    libc = ctypes.CDLL(None)
    libc.dlclose.argtypes = [ctypes.c_void_p]
    other = ctypes.CDLL(espeakng_loader.get_library_path())
    try:
      with self.assertRaisesRegex(RuntimeError, "already loaded by other code"):
        speech.synthesize(PANGRAM)
    finally:
      libc.dlclose(other._handle)  # pylint: disable=protected-access
    self.assert_still_working()

  def test_numpy_integers_are_accepted(self):
    s = speech.synthesize(PANGRAM, rate=np.int64(175), pitch=np.int32(50))
    self.assertEqual(fingerprint(s), fingerprint(self.reference))


if __name__ == "__main__":
  absltest.main()
