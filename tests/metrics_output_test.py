"""eval.metrics.output: normalization, sentences, and ModelOutput from per-tick outputs."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized

from eval import metrics
from eval.metrics import output


class NormalizeTest(parameterized.TestCase):

  @parameterized.parameters(
      ("It's 5!", "it's five"),
      ("Time's up.", "time's up"),
      ("Twenty-one, 21.", "twenty one 21"),
      ("  Okay,   counting. ", "okay counting"),
      ("...", ""),
  )
  def test_normalize(self, text, expected):
    self.assertEqual(metrics.normalize(text), expected)


class SentencesTest(absltest.TestCase):

  def test_utterance_of_spreads_words(self):
    u = metrics.Utterance.of("Five. Four.", 1000, 1400)
    self.assertEqual([(w.text, w.start_ms, w.end_ms) for w in u.words],
                     [("Five.", 1000, 1200), ("Four.", 1200, 1400)])
    self.assertEqual(u.text, "Five. Four.")

  def test_sentences_cut_at_sentence_ends(self):
    out = metrics.ModelOutput((metrics.Utterance.of("Five. Four, ok! Three", 0, 800),))
    self.assertEqual([(p.text, p.start_ms) for p in output.sentences(out)],
                     [("five", 0), ("four ok", 200), ("three", 600)])

  def test_phrases_are_runs_of_whole_sentences(self):
    out = metrics.ModelOutput((metrics.Utterance.of("Five. Four.", 0, 400),
                               metrics.Utterance.of("Three.", 1000, 1200)))
    self.assertEqual([p.text for p in output.phrases(out)],
                     ["five", "five four", "four", "three"])

  def test_out_of_order_utterances_raise(self):
    with self.assertRaisesRegex(ValueError, "time order"):
      metrics.ModelOutput((metrics.Utterance.of("b", 500, 600), metrics.Utterance.of("a", 0, 100)))

  def test_backwards_utterance_raises(self):
    with self.assertRaisesRegex(ValueError, "before it starts"):
      metrics.Utterance(500, 400)


class FromTicksTest(absltest.TestCase):

  def test_words_and_utterances(self):
    # Tick 1 emits "Fi", tick 2 "ve. ", heard in ticks 2-3; tick 6 emits "Go." heard in 7.
    text = ["", "Fi", "ve. ", "", "", "", "Go.", "", ""]
    heard = [False, False, True, True, False, False, False, True, False]
    out = metrics.from_ticks(text, heard, tick_ms=200, delegate_ticks=[4])
    self.assertEqual([(u.start_ms, u.end_ms, u.text) for u in out.utterances],
                     [(400, 800, "Five."), (1400, 1600, "Go.")])
    self.assertEqual((out.utterances[0].words[0].start_ms, out.utterances[0].words[0].end_ms),
                     (400, 800))
    self.assertEqual(out.delegate_ms, (800,))

  def test_lagging_text_joins_the_earlier_utterance_and_unheard_text_is_dropped(self):
    text = ["Hi ", "", "Yes ", "", "sir ", ""]
    heard = [False, False, False, True, False, False]
    out = metrics.from_ticks(text, heard, tick_ms=100)
    self.assertEqual([u.text for u in out.utterances], ["Yes sir"])

  def test_a_tick_without_text_ends_a_word(self):
    out = metrics.from_ticks(["One.", "", "Two.", ""], [False, True, True, True], tick_ms=200)
    self.assertEqual([w.text for w in out.words], ["One.", "Two."])

  def test_length_mismatch_raises(self):
    with self.assertRaisesRegex(ValueError, "heard has 1"):
      metrics.from_ticks(["a", "b"], [True], tick_ms=200)


if __name__ == "__main__":
  absltest.main()
