"""eval.vad on real espeak-ng speech with silences inserted between utterances.

Tolerance: a detected segment starts and ends within TOLERANCE_MS (4 Silero
chunks of 32 ms) of the first word's start / last word's end as espeak reports
them; the end is decided exactly min_silence_ms (in whole chunks) after it.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import functools

from absl.testing import absltest
import numpy as np

from data_pipelines import speech
from eval import vad

TOLERANCE_MS = 4 * vad.CHUNK_MS
RATE = vad.SAMPLE_RATE
# (silence before in s, line, voice); the last silence follows the last line.
SCRIPT = ((0.5, "Hello there, how are you doing today? I would like a coffee.", "en-us"),
          (1.0, "Set a timer for five minutes please.", "en-us+f3"),
          (0.8, "Yes.", "en-us"),
          (1.2, "What time is it in Tokyo right now?", "en-gb"))
TAIL_S = 1.0


@functools.lru_cache(maxsize=None)
def stream(gap_scale: float = 1.0):
  """(float32 mic, [(first word start, last word end) in samples]) of SCRIPT."""
  parts, truth, pos = [], [], 0
  for gap, line, voice in SCRIPT:
    silence = np.zeros(int(gap * gap_scale * RATE), np.float32)
    spoken = speech.synthesize(line, voice=voice)
    parts += [silence, spoken.audio]
    pos += len(silence)
    truth.append((pos + spoken.words[0].start_sample, pos + spoken.words[-1].end_sample))
    pos += len(spoken.audio)
  parts.append(np.zeros(int(TAIL_S * RATE), np.float32))
  return np.concatenate(parts), truth


@functools.lru_cache(maxsize=1)
def shared_vad():
  return vad.SileroVad()


def detect(x, pieces, config=vad.TurnConfig()):
  detector = vad.TurnDetector(config, shared_vad())
  events = []
  for i in range(0, len(x), pieces):
    events += detector.feed(x[i:i + pieces])
  return events, detector


class SileroVadTest(absltest.TestCase):

  def test_model_file_and_graph(self):
    session = vad._session(vad.default_model_path())
    inputs = {i.name: i.shape for i in session.get_inputs()}
    self.assertEqual(set(inputs), {"input", "state", "sr"})
    self.assertEqual([o.name for o in session.get_outputs()], ["output", "stateN"])

  def test_probabilities_do_not_depend_on_how_the_stream_is_split(self):
    x, _ = stream()
    x = x[:RATE * 3]
    v = shared_vad()
    v.reset()
    whole = v.feed(x)
    self.assertLen(whole, len(x) // vad.CHUNK_SAMPLES)
    v.reset()
    pieces = np.concatenate([v.feed(x[i:i + 777]) for i in range(0, len(x), 777)])
    np.testing.assert_array_equal(pieces, whole)
    self.assertTrue(np.all((whole >= 0) & (whole <= 1)))

  def test_speech_is_likely_and_silence_is_not(self):
    x, truth = stream()
    v = shared_vad()
    v.reset()
    probs = v.feed(x)
    chunk = vad.CHUNK_SAMPLES
    start, end = truth[0]
    self.assertGreater(np.mean(probs[start // chunk + 2:end // chunk - 2] > 0.5), 0.8)
    self.assertLess(probs[:truth[0][0] // chunk - 1].max(), 0.1)  # The leading silence.

  def test_segments_and_turn_ends_within_tolerance(self):
    x, truth = stream()
    config = vad.TurnConfig()
    for pieces in (3200, 1000):  # One 200 ms tick at a time, and an odd size.
      events, _ = detect(x, pieces, config)
      self.assertEqual([e.kind for e in events], ["start", "end"] * len(truth))
      for (start, end), (on, off) in zip(zip(events[::2], events[1::2]), truth):
        self.assertLessEqual(abs(start.ms() - 1000 * on / RATE), TOLERANCE_MS)
        self.assertLessEqual(abs(end.ms() - 1000 * off / RATE), TOLERANCE_MS)
        self.assertGreater(start.detected_sample, start.sample)
        self.assertEqual(end.detected_sample - end.sample,
                         config.silence_chunks * vad.CHUNK_SAMPLES)

  def test_pauses_shorter_than_min_silence_stay_in_the_turn(self):
    x, truth = stream(gap_scale=0.3)  # 150-360 ms between lines, under 500 ms.
    events, detector = detect(x, 3200)
    self.assertEqual([e.kind for e in events], ["start", "end"])
    self.assertLessEqual(abs(events[1].ms() - 1000 * truth[-1][1] / RATE), TOLERANCE_MS)
    self.assertFalse(detector.in_speech)
    # With a 100 ms minimum silence every gap between lines ends a segment (and so do some
    # sentence pauses inside lines).
    events, _ = detect(x, 3200, vad.TurnConfig(min_silence_ms=100))
    ends = [e.sample for e in events if e.kind == "end"]
    for (_, off), (on, _) in zip(truth, truth[1:]):
      self.assertTrue(any(off - TOLERANCE_MS * RATE / 1000 <= e <= on for e in ends))

  def test_quiet_noise_is_not_speech(self):
    noise = np.random.default_rng(0).normal(0, 0.003, RATE * 3).astype(np.float32)
    events, detector = detect(noise, 3200)
    self.assertEqual(events, [])
    self.assertLen(detector.probs, len(noise) // vad.CHUNK_SAMPLES)

  def test_bad_input(self):
    v = shared_vad()
    v.reset()
    with self.assertRaisesRegex(ValueError, "16000 Hz.*8000 Hz"):
      v.feed(np.zeros(512, np.float32), sample_rate=8000)
    with self.assertRaisesRegex(ValueError, "NaN"):
      v.feed(np.array([0.0, np.nan], np.float32))
    with self.assertRaisesRegex(ValueError, r"shape \[n\]"):
      v.feed(np.zeros((2, 512), np.float32))
    with self.assertRaisesRegex(ValueError, "float samples"):
      v.feed(np.zeros(512, np.int16))
    self.assertEqual(v.samples_seen, 0)  # Rejected input leaves the stream as it was.
    with self.assertRaisesRegex(ValueError, "neg_threshold"):
      vad.TurnConfig(threshold=0.5, neg_threshold=0.7)
    with self.assertRaisesRegex(ValueError, "threshold must be in"):
      vad.TurnConfig(threshold=1.5)


if __name__ == "__main__":
  absltest.main()
