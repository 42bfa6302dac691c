"""eval.metrics for the video families: RepCount OBO/MAE, PAUC@0.5, temporal IoU, by hand."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import math

from absl.testing import absltest
from absl.testing import parameterized

from eval import metrics


def say(*items):
  """(text, start_ms) pairs -> ModelOutput, each 300 ms long."""
  return metrics.ModelOutput(tuple(metrics.Utterance.of(t, s, s + 300) for t, s in items))


class RepCountTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("exact", ["One.", "Two.", "Three.", "Four."], 4, True, 0.0),
      ("one_short", ["One.", "Two.", "Three."], 3, True, 1 / 4.1),
      ("two_short", ["One.", "Two."], 2, False, 2 / 4.1),
      ("one_over_in_digits", ["1.", "2.", "3.", "4.", "5."], 5, True, 1 / 4.1),
      ("silent", [], 0, False, 4 / 4.1),
      ("last_number_wins", ["Okay, counting.", "Six.", "That's three."], 3, True, 1 / 4.1),
  )
  def test_obo_and_mae(self, said, predicted, obo, mae):
    out = say(*((t, 1000 * (i + 1)) for i, t in enumerate(said)))
    r = metrics.repcount_score({"count": 4}, out)
    self.assertEqual((r.predicted, r.count, r.obo), (predicted, 4, obo))
    self.assertAlmostEqual(r.mae, mae)

  def test_aggregate(self):
    results = [metrics.repcount_score({"count": 4}, say(("Four.", 0))),
               metrics.repcount_score({"count": 2}, metrics.ModelOutput())]
    summary = metrics.aggregate_repcount(results)
    self.assertEqual(summary["obo"], 0.5)
    self.assertAlmostEqual(summary["mae"], (0 + 2 / 2.1) / 2)


# A reply span [10 s, 12 s]; the answer is "red"; it starts to show at 9 s.
PAUC_TRUTH = {"reply_span": {"start_ms": 10000, "end_ms": 12000},
              "answer": {"accept": ["red", "it's red"]}, "no_answer_before": {"ms": 9000}}


class PaucTest(parameterized.TestCase):

  @parameterized.named_parameters(
      # Correct at once: area 2 * 1 over 2.
      ("correct_at_start", [("Red.", 10000)], 1.0),
      # Correct at 1 s: x = 0.5 s; 0.5 * 0.125 + 1.5 * 1 = 1.5625, / 2.
      ("correct_after_1s", [("It's red.", 11000)], 1.5625 / 2),
      # Correct at the end: x = 1 s; 1 * 0.125 + 1 * 1 = 1.125, / 2.
      ("correct_at_end", [("Red.", 12000)], 1.125 / 2),
      ("no_reply", [], 0.125),
      ("wrong_at_start", [("Blue.", 10000)], 0.0),
      # Wrong at 0.4 s (x = 0.2), right at 1.2 s (x = 0.6):
      # 0.2 * 0.125 + 0.4 * 0 + 1.4 * 1 = 1.425, / 2.
      ("wrong_then_right", [("Blue.", 10400), ("Red.", 11200)], 1.425 / 2),
      # Right at 0 s, wrong at 0.8 s (x = 0.4): 0.4 * 1 + 1.6 * 0 = 0.4, / 2.
      ("right_then_wrong", [("Red.", 10000), ("Blue.", 10800)], 0.4 / 2),
      # The repeated "Blue." at 1.6 s is dropped, so the curve stays at 1.
      ("duplicate_dropped", [("Blue.", 10000), ("Red.", 10800), ("Blue.", 11600)],
       (0.4 * 0 + 1.6 * 1) / 2),
      ("replies_outside_the_span_ignored", [("Red.", 9500), ("Red.", 12001)], 0.125),
  )
  def test_pauc_by_hand(self, said, value):
    self.assertAlmostEqual(metrics.pauc(PAUC_TRUTH, say(*said)).pauc, value)

  def test_early_answer_is_flagged(self):
    self.assertTrue(metrics.pauc(PAUC_TRUTH, say(("Red.", 8000))).early_answer)
    self.assertFalse(metrics.pauc(PAUC_TRUTH, say(("Red.", 9500))).early_answer)
    self.assertFalse(metrics.pauc(PAUC_TRUTH, say(("Blue.", 8000))).early_answer)

  def test_step_area_matches_mmduet2_formula(self):
    # MMDuet2 scale (0-2 judge, start 0.5) normalized: scores 1/2 -> 0.5, start 0.25.
    self.assertAlmostEqual(metrics.step_area([(2.0, 0.5)], 4.0, start_score=0.25),
                           (1.0 * 0.25 + 3.0 * 0.5) / 4.0)
    self.assertAlmostEqual(metrics.step_area([(2.0, 1.0)], 4.0, omega=0.0), (2 * 0.125 + 2) / 4)
    self.assertAlmostEqual(metrics.step_area([(4.0, 0.0)], 4.0, omega=1.0), 0.0)

  def test_zero_length_span_raises(self):
    with self.assertRaisesRegex(ValueError, "positive length"):
      metrics.step_area([], 0.0)

  def test_aggregate(self):
    results = [metrics.pauc(PAUC_TRUTH, say(("Red.", 10000))),
               metrics.pauc(PAUC_TRUTH, metrics.ModelOutput())]
    self.assertEqual(metrics.aggregate_pauc(results),
                     {"pauc": (1 + 0.125) / 2, "early_answer": 0.0, "questions": 2})


class IouTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("identical", (1, 3), (1, 3), 1.0),
      ("overlap", (0, 4), (2, 6), 2 / 6),
      ("containment", (2, 3), (0, 4), 1 / 4),
      ("touching", (0, 2), (2, 4), 0.0),
      ("disjoint", (0, 1), (5, 6), 0.0),
      ("points", (1, 1), (1, 1), 0.0),
  )
  def test_temporal_iou(self, a, b, value):
    self.assertAlmostEqual(metrics.temporal_iou(a, b), value)
    self.assertAlmostEqual(metrics.temporal_iou(b, a), value)


CHARADES_TRUTH = {"event": {"start_ms": 4000, "end_ms": 8000},
                  "expected": [{"cue": "start", "accept": ["start"]},
                               {"cue": "stop", "accept": ["stop"]}]}


class CharadesTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("exact", [("Start.", 4000), ("Stop.", 8000)], (4000, 8000), 1.0),
      ("late_by_a_tick", [("Start.", 4200), ("Stop.", 8200)], (4200, 8200), 3800 / 4200),
      ("inside", [("Start.", 5000), ("Stop.", 7000)], (5000, 7000), 0.5),
      ("after_the_event", [("Start.", 9000), ("Stop.", 10000)], (9000, 10000), 0.0),
      ("wrong_words_ignored", [("Go.", 3000), ("Start.", 4000), ("Halt.", 5000), ("Stop.", 8000)],
       (4000, 8000), 1.0),
      ("stop_before_start_ignored", [("Stop.", 3000), ("Start.", 4000), ("Stop.", 6000)],
       (4000, 6000), 0.5),
      ("no_stop", [("Start.", 4000)], None, 0.0),
      ("silent", [], None, 0.0),
  )
  def test_charades(self, said, predicted, iou):
    r = metrics.charades_score(CHARADES_TRUTH, say(*said))
    self.assertEqual(r.predicted, predicted)
    self.assertAlmostEqual(r.iou, iou)

  def test_aggregate(self):
    ious = [1.0, 0.6, 0.4, 0.0]
    results = [metrics.GroundingResult(None, (0, 1), i) for i in ious]
    summary = metrics.aggregate_charades(results)
    self.assertAlmostEqual(summary["miou"], 50.0)
    self.assertEqual((summary["r@0.3"], summary["r@0.5"], summary["r@0.7"]), (75.0, 50.0, 25.0))
    self.assertTrue(math.isnan(metrics.aggregate_charades([])["miou"]))


if __name__ == "__main__":
  absltest.main()
