"""TimeSpeak scenarios: determinism, splits, ground truth checked on rendered episodes.

The speech cache lives in a temporary directory for the whole module
(MICROTURN_CACHE is set in setUpModule and restored in tearDownModule).
"""

from tests import testing  # isort: skip  (must configure JAX first)

import collections
import json
import re

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from data_pipelines import episode
from data_pipelines.scenarios import common
from data_pipelines.scenarios import planning
from data_pipelines.scenarios import timespeak
from tests import scenarios_testing as st

N_TICKS = 90
N_SCRIPTS = {"train": 50, "heldout": 30}
TOLERANCE = {"reminder": 2, "timer": 2, "count": 1}  # ticks, as documented

_cache = st.TemporaryCache()
setUpModule = _cache.set_up
tearDownModule = _cache.tear_down


def script(seed: int, split: str = "train", n_ticks: int = N_TICKS, tick_ms: int = 200):
  return timespeak.make_script(np.random.default_rng(seed), split, n_ticks, tick_ms)


def model_utterances(truth) -> list[dict]:
  return ([truth["ack"]] if truth["ack"] else []) + truth["expected"]


class TimeSpeakTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.scripts = {split: [script(seed, split) for seed in range(N_SCRIPTS[split])]
                   for split in common.SPLITS}

  def test_family(self):
    st.assert_family(self, timespeak, "timespeak", needs_video=False)

  @parameterized.parameters("train", "heldout")
  def test_deterministic(self, split):
    st.assert_deterministic(self, lambda: script(7, split), st.TINY_AUDIO)

  def test_phrasings_are_disjoint(self):
    tables = [timespeak._PERIODIC, timespeak._TIMER, timespeak._COUNTDOWN, timespeak._COUNT_UP,
              timespeak._DISTRACTORS, *timespeak._STOPS.values()]
    for table in tables:
      self.assertEmpty(set(table["train"]) & set(table["heldout"]))
      self.assertNotEmpty(table["heldout"])
    requests = {split: {s.truth["request"]["text"] for s in self.scripts[split]}
                for split in common.SPLITS}
    self.assertEmpty(requests["train"] & requests["heldout"])

  def test_voices_are_disjoint(self):
    voices = {split: collections.Counter() for split in common.SPLITS}
    for split in common.SPLITS:
      for s in self.scripts[split]:
        for line in s.lines:
          if line.speaker == "model":
            self.assertEqual(line.voice, common.ASSISTANT_VOICE)
          else:
            pool = common.USER_VOICES if line.speaker == "user" else common.OTHER_VOICES
            self.assertIn(line.voice.name, pool[split])
            voices[split][line.voice.name] += 1
    self.assertEmpty(set(voices["train"]) & set(voices["heldout"]))
    self.assertGreaterEqual(len(voices["train"]), 5)

  def test_variety(self):
    scripts = self.scripts["train"]
    truths = [s.truth for s in scripts]
    self.assertEqual({t["subtask"] for t in truths}, set(timespeak.SUBTASKS))
    self.assertGreaterEqual(len({t["request"]["text"] for t in truths}), 30)
    self.assertGreaterEqual(len({json.dumps(t["params"], sort_keys=True) for t in truths}), 20)
    self.assertGreaterEqual(len({t["expected"][0]["start_ms"] - t["request"]["end_ms"]
                                 for t in truths}), 20)
    self.assertGreaterEqual(len({s.lines[0].voice for s in scripts}), 20)  # rates, pitches
    self.assertTrue(any(t["distractors"] for t in truths))
    self.assertTrue(any(t["ack"] for t in truths))

  def test_truth_structure(self):
    for split in common.SPLITS:
      for s in self.scripts[split]:
        truth = s.truth
        self.assertEqual(json.loads(json.dumps(truth)), truth)
        self.assertEqual((truth["family"], truth["n_ticks"], truth["tick_ms"]),
                         ("timespeak", N_TICKS, 200))
        end_ms = N_TICKS * 200
        for u in model_utterances(truth):
          lo, hi = u["window_ticks"]
          self.assertBetween(u["start_tick"], lo, hi)
          self.assertEqual(u["start_tick"], u["start_ms"] // 200)
          self.assertEqual(u["window_ms"], [lo * 200, hi * 200 + 199])
          self.assertBetween(lo, 1, N_TICKS - 1)
          self.assertLess(u["end_ms"], end_ms)
          self.assertIn(u["normalized"], u["accept"])
          if u["role"] != "ack":
            self.assertEqual(u["tolerance_ticks"], TOLERANCE[u["role"]])
        starts = [u["start_ms"] for u in model_utterances(truth)]
        self.assertEqual(starts, sorted(starts))
        for line in truth["lines"]:
          self.assertBetween(line["start_ms"], 0, line["end_ms"])
          self.assertLessEqual(line["end_ms"], end_ms)
        self.assertLessEqual(truth["silent_after"]["start_ms"], end_ms)

  def test_subtask_content(self):
    for s in self.scripts["train"] + self.scripts["heldout"]:
      truth = s.truth
      said = [u["normalized"] for u in truth["expected"]]
      request_end = truth["request"]["end_ms"]
      if truth["subtask"] == "countdown":
        start = truth["params"]["start"]
        numbers = [planning.number_word(i) for i in range(start, 0, -1)]
        self.assertEqual(said[:start], numbers)
        self.assertLen(said, start + (truth["params"]["final"] is not None))
        self.assertIn(planning.number_word(start), truth["request"]["text"])
      elif truth["subtask"] == "count_up":
        count = truth["params"]["count"]
        self.assertEqual(said, [planning.number_word(i) for i in range(1, count + 1)])
        gaps = np.diff([u["start_ms"] for u in truth["expected"]])
        np.testing.assert_array_equal(gaps, 1000 * truth["params"]["period_s"])
      elif truth["subtask"] == "timer":
        (reply,) = truth["expected"]
        self.assertEqual(reply["start_ms"] - request_end, 1000 * truth["params"]["seconds"])
        self.assertIn("time's up", reply["accept"])
      else:
        period = 1000 * truth["params"]["period_s"]
        starts = [u["start_ms"] for u in truth["expected"]]
        self.assertEqual(starts, [request_end + k * period for k in range(1, len(starts) + 1)])
        self.assertLen(starts, truth["params"]["repeats"])
        stop = truth["stop"]
        self.assertIn(truth["params"]["stop_word"], stop["text"].lower())
        self.assertGreater(stop["start_ms"], truth["expected"][-1]["end_ms"])
        self.assertLessEqual(stop["end_ms"], request_end + (len(starts) + 1) * period - 400)
        # The episode runs past where the next reminder would have been.
        self.assertGreater(N_TICKS, (request_end + (len(starts) + 1) * period) // 200 + 2)
        self.assertGreaterEqual(truth["silent_after"]["start_ms"], stop["end_ms"])

  @parameterized.named_parameters(*st.AUDIO_LAYOUTS.items())
  def test_truth_holds_on_rendered_episode(self, layout):
    chosen, seen = [], set()
    for split in common.SPLITS:
      for s in self.scripts[split]:
        key = (split, s.truth["subtask"], bool(s.truth["distractors"]))
        if key not in seen:
          seen.add(key)
          chosen.append(s)
    for s in chosen:
      with self.subTest(subtask=s.truth["subtask"], request=s.truth["request"]["text"]):
        self.check_rendered(s, st.render(s, layout))

  def check_rendered(self, s: episode.EpisodeScript, ep: episode.Episode):
    truth = s.truth
    st.assert_spoken_on_time(self, ep, model_utterances(truth))
    st.assert_silent_ticks(self, ep, truth["silent_spans"])
    after = truth["silent_after"]["start_tick"]
    self.assertFalse(st.speaks(ep)[after - 1:].any())
    self.assertEqual(st.rms(ep.model_audio, truth["silent_after"]["start_ms"], N_TICKS * 200), 0.0)
    for line in truth["lines"]:
      self.assertGreater(st.rms(ep.mic, line["start_ms"], line["end_ms"]), 0.01, line["text"])
    self.assertEqual(st.rms(ep.mic, 0, truth["request"]["start_ms"]), 0.0)
    for line in truth["lines"]:
      words = [w for w in ep.words if w.speaker == line["speaker"]
               and line["start_ms"] <= w.start_ms < line["end_ms"]]
      self.assertEqual(re.sub(r"\W", "", "".join(w.text for w in words)),
                       re.sub(r"\W", "", line["text"]))

  def test_other_tick_lengths(self):
    s = script(3, n_ticks=150, tick_ms=100)
    for u in s.truth["expected"]:
      self.assertEqual(u["start_tick"], u["start_ms"] // 100)
      self.assertBetween(u["start_tick"], *u["window_ticks"])
    self.assertEqual(s.n_ticks, 150)

  @parameterized.parameters("train", "heldout")
  def test_every_draw_fits_the_minimum(self, split):
    n_ticks = timespeak.min_ticks(200)
    self.assertEqual(n_ticks, 75)
    subtasks = set()
    for seed in range(100, 115):
      s = script(seed, split, n_ticks)
      subtasks.add(s.truth["subtask"])
      self.assertLessEqual(max(u["window_ticks"][1] for u in s.truth["expected"]), n_ticks - 1)
    self.assertGreaterEqual(len(subtasks), 3)

  def test_too_short(self):
    with self.assertRaisesRegex(ValueError, r"timespeak needs n_ticks >= 75 .*got n_ticks=40"):
      script(0, n_ticks=40)

  def test_unknown_split(self):
    with self.assertRaisesRegex(ValueError, "unknown split 'test'"):
      script(0, "test")


if __name__ == "__main__":
  absltest.main()
