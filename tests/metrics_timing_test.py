"""eval.metrics.timing: TimeSpeak / CueSpeak accuracy on hand-made truth."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized

from eval import metrics

TICK = 200


def expected(text, tick, lo, hi, accept=()):
  return {"text": text, "start_ms": tick * TICK, "accept": [metrics.normalize(text), *accept],
          "window_ticks": [lo, hi]}


# A countdown "Three. Two. One." targeted at ticks 10, 15, 20 with +-1 tick, and
# silence required in ticks 0-8 and 23-29 (whole ticks, half-open in ms).
TRUTH = {
    "family": "timespeak", "subtask": "countdown", "tick_ms": TICK, "n_ticks": 30,
    "expected": [expected("Three.", 10, 9, 11), expected("Two.", 15, 14, 16),
                 expected("One.", 20, 19, 21, accept=["1"])],
    "silent_spans": [{"start_ms": 0, "end_ms": 9 * TICK}, {"start_ms": 23 * TICK, "end_ms": 30 * TICK}],
}


def say(*items):
  """(text, start_ms) pairs -> ModelOutput, each 300 ms long."""
  return metrics.ModelOutput(tuple(metrics.Utterance.of(t, s, s + 300) for t, s in items))


PERFECT = say(("Three.", 2000), ("Two.", 3000), ("One.", 4000))


class TimingAccuracyTest(parameterized.TestCase):

  def test_perfect(self):
    r = metrics.timing_accuracy(TRUTH, PERFECT)
    self.assertEqual((r.accuracy, r.hits, r.silent_speech_ms, r.clean), (1.0, (True,) * 3, 0, True))
    self.assertEqual(r.offsets_ms, (0, 0, 0))
    self.assertEqual(r.task, "countdown")

  def test_empty_output(self):
    r = metrics.timing_accuracy(TRUTH, metrics.ModelOutput())
    self.assertEqual((r.accuracy, r.silent_speech_ms, r.clean), (0.0, 0, False))
    self.assertEqual(r.offsets_ms, (None,) * 3)

  @parameterized.named_parameters(
      ("first_ms_of_window", 9 * TICK, True),
      ("last_ms_of_window", 12 * TICK - 1, True),
      ("one_ms_early", 9 * TICK - 1, False),
      ("one_ms_late", 12 * TICK, False),
  )
  def test_window_edges(self, start_ms, hit):
    out = say(("Three.", start_ms), ("Two.", 3000), ("One.", 4000))
    self.assertEqual(metrics.timing_accuracy(TRUTH, out).hits, (hit, True, True))

  @parameterized.named_parameters(
      ("wrong_word", "Four.", False),
      ("accepted_alternative", "1.", True),
      ("extra_words_in_the_sentence", "One more.", False),
      ("case_and_punctuation", "ONE!", True),
  )
  def test_content(self, said, hit):
    out = say(("Three.", 2000), ("Two.", 3000), (said, 4000))
    self.assertEqual(metrics.timing_accuracy(TRUTH, out).hits[2], hit)

  def test_sentences_said_together_each_match_their_own_window(self):
    out = metrics.ModelOutput((metrics.Utterance.of("Three. Two.", 2000, 3200),))
    # "Two." is heard from 2600 ms, tick 13: outside its window 14..16.
    self.assertEqual(metrics.timing_accuracy(TRUTH, out).hits, (True, False, False))

  def test_one_utterance_serves_one_expected(self):
    truth = dict(TRUTH, expected=[expected("Go.", 10, 8, 12), expected("Go.", 11, 9, 13)])
    r = metrics.timing_accuracy(truth, say(("Go.", 2000)))
    self.assertEqual(r.hits, (True, False))
    r = metrics.timing_accuracy(truth, say(("Go.", 2000), ("Go.", 2400)))
    self.assertEqual(r.hits, (True, True))

  def test_speech_in_silent_span_is_counted(self):
    out = say(("Hello.", 1000), ("Three.", 2000), ("Two.", 3000), ("One.", 4000))
    r = metrics.timing_accuracy(TRUTH, out)
    self.assertEqual((r.accuracy, r.silent_speech_ms, r.clean), (1.0, 300, False))
    # On time (tick 21), but 4350-4650 ms runs 50 ms into the silent span from 4600 ms.
    r = metrics.timing_accuracy(TRUTH, say(("Three.", 2000), ("Two.", 3000), ("One.", 4350)))
    self.assertEqual((r.accuracy, r.silent_speech_ms, r.clean), (1.0, 50, False))


class AggregateTimingTest(absltest.TestCase):

  def test_macro_average_over_tasks(self):
    cue = dict(TRUTH, family="cuespeak", subtask=None, rule="word")
    results = [metrics.timing_accuracy(TRUTH, PERFECT),
               metrics.timing_accuracy(TRUTH, say(("Three.", 2000))),
               metrics.timing_accuracy(cue, metrics.ModelOutput())]
    summary = metrics.aggregate_timing(results)
    self.assertAlmostEqual(summary["per_task"]["countdown"]["accuracy"], (1 + 1 / 3) / 2)
    self.assertEqual(summary["per_task"]["word"]["accuracy"], 0.0)
    self.assertAlmostEqual(summary["accuracy"], (2 / 3 + 0) / 2)
    self.assertEqual(summary["clean"], 0.25)
    self.assertEqual(summary["episodes"], 3)


if __name__ == "__main__":
  absltest.main()
