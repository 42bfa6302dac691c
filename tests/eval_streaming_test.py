"""eval.episodes / players / streaming / evaluate / report on real heldout episodes, with the
oracle player (rendered targets replayed): it scores perfectly in "ours" and loses what the
harness forbids in the baseline modes."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import dataclasses
import functools
import json
import os
import tempfile

from absl.testing import absltest
import numpy as np

from data_pipelines import stream
from data_pipelines import text
from data_pipelines.stream import Slot
from eval import episodes
from eval import evaluate
from eval import metrics
from eval import players
from eval import report
from eval import scoring
from eval import streaming

LAYOUT = stream.TickLayout(frames_per_audio_token=2, video_height=40, video_width=40,
                           text_in_tokens=4, bg_in_tokens=4, text_out_tokens=6)


@functools.lru_cache(maxsize=1)
def suite():
  return tuple(episodes.heldout(scoring.FAMILIES, 1, layout=LAYOUT, n_ticks=75, seed=0))


@functools.lru_cache(maxsize=None)
def oracle_evaluation(max_sessions=8):
  return evaluate.evaluate(players.OraclePlayer(max_sessions), suite())


class EpisodesTest(absltest.TestCase):

  def test_inputs_are_the_rendered_inputs_without_self_audio(self):
    ep = next(e for e in suite() if e.family == "delegation")
    self.assertEqual(ep.n_ticks, 75)
    self.assertTrue(all(i.self_audio is None for i in ep.inputs))
    ticks = ep.episode.ticks
    for t in (0, 30, 74):
      packed = LAYOUT.pack(ep.inputs[t])
      for kind in (Slot.USER_AUDIO, Slot.VIDEO, Slot.TEXT_IN, Slot.BG_IN):
        span = LAYOUT.span(kind)
        np.testing.assert_array_equal(packed.tokens[span], ticks.tokens[t, span])
        np.testing.assert_array_equal(packed.present[span], ticks.present[t, span])
      np.testing.assert_array_equal(packed.user_audio, ticks.user_audio[t])
      np.testing.assert_array_equal(packed.video, ticks.video[t])
      self.assertFalse(packed.present[LAYOUT.span(Slot.SELF_AUDIO)].any())
    self.assertTrue(any(i.bg_in for i in ep.inputs))  # The background result is an input.
    np.testing.assert_array_equal(ep.mic_tick(3), ep.episode.mic[3 * 3200:4 * 3200])

  def test_heldout_is_deterministic_and_rejects_an_empty_split(self):
    again = episodes.heldout(["cuespeak"], 1, layout=LAYOUT, n_ticks=75, seed=0)[0]
    first = next(e for e in suite() if e.family == "cuespeak")
    np.testing.assert_array_equal(again.episode.mic, first.episode.mic)
    self.assertEqual(again.truth, first.truth)
    with self.assertRaisesRegex(ValueError, "split would be empty"):
      episodes.heldout(["cuespeak"], 0, layout=LAYOUT, n_ticks=75)
    with self.assertRaisesRegex(ValueError, "no scenario families"):
      episodes.heldout([], 2, layout=LAYOUT, n_ticks=75)
    with self.assertRaisesRegex(ValueError, "unknown split 'test'"):
      episodes.heldout(["cuespeak"], 1, layout=LAYOUT, n_ticks=75, split="test")
    with self.assertRaisesRegex(ValueError, "unknown scenario family 'karaoke'"):
      episodes.heldout(["karaoke"], 1, layout=LAYOUT, n_ticks=75)


class StreamingTest(absltest.TestCase):

  def test_oracle_run_reproduces_the_rendered_output(self):
    ev = oracle_evaluation()
    for ep, run in zip(ev.episodes, ev.runs["ours"]):
      self.assertEqual((run.family, run.index, run.mode), (ep.family, ep.index, "ours"))
      rows = ep.episode.ticks.tokens[:, LAYOUT.span(Slot.TEXT_OUT)]
      np.testing.assert_array_equal(run.text_out, rows)
      samples = LAYOUT.samples_per_tick
      heard = [bool(np.any(ep.episode.model_audio[t * samples:(t + 1) * samples]))
               for t in range(ep.n_ticks)]
      self.assertEqual(run.heard(), heard)
      self.assertTrue(all(run.allow))
      self.assertIsNone(run.gate)

  def test_oracle_scores_perfectly_ours_and_near_zero_behind_a_one_response_harness(self):
    agg = oracle_evaluation().aggregates
    ours = {f: dict(scoring.headline_values(f, agg["ours"][f])[0:1]) for f in scoring.FAMILIES}
    for family in ("timespeak", "cuespeak", "repcount", "delegation"):
      self.assertEqual(list(ours[family].values()), [100.0], family)
    self.assertGreater(agg["ours"]["proactive_qa"]["pauc"], 0.9)
    self.assertGreater(agg["ours"]["charades"]["miou"], 70)
    self.assertEqual(agg["ours"]["turntaking"]["turn_over_rate"], 1.0)
    response = agg["baseline_response"]
    for family in ("timespeak", "cuespeak"):
      self.assertEqual(response[family]["accuracy"], 0.0)
    self.assertEqual(response["repcount"]["timing"]["accuracy"], 0.0)
    self.assertEqual(response["proactive_qa"]["pauc"], metrics.proactive.NO_ANSWER_SCORE)
    self.assertEqual(response["charades"]["miou"], 0.0)
    # Behind the harness the oracle answers late: at least the 500 ms turn-end silence.
    self.assertGreaterEqual(response["turntaking"]["response_latency_ms"],
                            agg["ours"]["turntaking"]["response_latency_ms"])
    # CueSpeak cues come inside the user's speech: no floor policy lets them through.
    self.assertEqual(agg["baseline_floor"]["cuespeak"]["accuracy"], 0.0)

  def test_harness_only_ever_silences(self):
    ev = oracle_evaluation()
    for mode in ("baseline_response", "baseline_floor"):
      for ours, gated in zip(ev.runs["ours"], ev.runs[mode]):
        self.assertLen(gated.allow, len(ours.allow))
        for t, allowed in enumerate(gated.allow):
          if allowed:
            np.testing.assert_array_equal(gated.text_out[t], ours.text_out[t])
          else:
            self.assertEqual(gated.text_out[t][0], text.SILENCE)
            self.assertFalse(gated.spoke[t])

  def test_grouping_does_not_change_runs(self):
    small = oracle_evaluation(max_sessions=3)
    for mode, runs in oracle_evaluation().runs.items():
      for a, b in zip(runs, small.runs[mode]):
        np.testing.assert_array_equal(a.text_out, b.text_out)
        self.assertEqual((a.spoke, a.allow), (b.spoke, b.allow))

  def test_bad_input(self):
    with self.assertRaisesRegex(ValueError, "unknown mode 'chatty'"):
      streaming.play(players.OraclePlayer(), suite(), "chatty")
    with self.assertRaisesRegex(ValueError, "no episodes"):
      streaming.play(players.OraclePlayer(), [], "ours")
    with self.assertRaisesRegex(ValueError, "no metrics for family 'toy'"):
      scoring.score_episode({"family": "toy"}, metrics.ModelOutput())


class ReportTest(absltest.TestCase):

  def test_table_json_and_plots(self):
    ev = oracle_evaluation()
    with tempfile.TemporaryDirectory() as out:
      written = report.write(ev, out, {"checkpoint": "oracle"}, plots_per_family=1)
      self.assertLen(written["plots"], len(scoring.FAMILIES))
      for path in written["plots"]:
        with open(path, "rb") as f:
          self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
      with open(written["json"]) as f:
        data = json.load(f)  # Strict JSON: NaN was written as null.
      self.assertEqual(data["meta"]["checkpoint"], "oracle")
      self.assertEqual(data["aggregates"]["ours"]["timespeak"]["accuracy"], 1.0)
      self.assertLen(data["episodes"], len(ev.episodes))
      self.assertIn("turn_end_ticks", data["episodes"][0]["baseline_response"])
      self.assertTrue(all(s.startswith(report.SEEDS) for r in data["references"]
                          for s in r["sources"]))
      again = report.to_json(ev, {"checkpoint": "oracle", "plots": data["meta"]["plots"]})
      with open(written["json"]) as f:
        self.assertEqual(f.read().strip(), again)
    table = written["text"]
    self.assertIn("VAD harness (1 response/turn)", table)
    self.assertIn("64.7", table)  # TimeSpeak, TML-Interaction-Small.
    self.assertIn("measured on their benchmarks, not on this suite", table)

  def test_plot_shows_any_model_text_verbatim(self):
    # An untrained model says anything; "$" and "^" must not be read as mathtext.
    ev = oracle_evaluation()
    run = ev.runs["ours"][0]
    said = np.full_like(run.text_out, text.SILENCE)
    said[:, :5] = text.encode("$x_{$")[None, :]  # Malformed mathtext.
    spoke = (True,) * len(run.spoke)
    runs = dict(ev.runs, ours=[dataclasses.replace(run, text_out=said, spoke=spoke)]
                + ev.runs["ours"][1:])
    ev = dataclasses.replace(ev, runs=runs)
    with tempfile.TemporaryDirectory() as out:
      path = report.plot_episode(ev, 0, os.path.join(out, "t.png"))
      with open(path, "rb") as f:
        self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

  def test_every_reference_quotes_its_numbers(self):
    for ref in report.REFERENCES:
      for value in (ref.tml, ref.gpt_realtime):
        self.assertIn(f"{value:g}", ref.quote, ref.family)
      self.assertTrue(ref.sources)

if __name__ == "__main__":
  absltest.main()
