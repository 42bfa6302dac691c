"""CueSpeak scenarios: determinism, splits, ground truth checked on rendered episodes.

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
from data_pipelines.scenarios import cuespeak
from data_pipelines.scenarios import planning
from tests import scenarios_testing as st

N_TICKS = 90
N_SCRIPTS = {"train": 50, "heldout": 30}

_cache = st.TemporaryCache()
setUpModule = _cache.set_up
tearDownModule = _cache.tear_down


def script(seed: int, split: str = "train", n_ticks: int = N_TICKS, tick_ms: int = 200):
  return cuespeak.make_script(np.random.default_rng(seed), split, n_ticks, tick_ms)


def slot_words() -> set[str]:
  """Every slot word of the module's tables (cues, members, near misses, distractors)."""
  words = {planning.number_word(n) for n in range(21)}
  for _, numbers, others in cuespeak._LANGUAGES.values():
    words.update(numbers + others)
  for cue, response, _, near in cuespeak._WORD_RULES:
    words.update((cue, response, *near))
  for _, _, _, _, members, others in cuespeak._CATEGORIES.values():
    words.update(members + others)
  words.update(cuespeak._OTHER_THINGS)
  return words


class CueSpeakTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.scripts = {split: [script(seed, split) for seed in range(N_SCRIPTS[split])]
                   for split in common.SPLITS}

  def test_family(self):
    st.assert_family(self, cuespeak, "cuespeak", needs_video=False)

  @parameterized.parameters("train", "heldout")
  def test_deterministic(self, split):
    st.assert_deterministic(self, lambda: script(11, split), st.TINY_AUDIO)

  def test_phrasings_are_disjoint(self):
    for table in cuespeak._INSTRUCTIONS.values():
      self.assertEmpty(set(table["train"]) & set(table["heldout"]))
    train, heldout = cuespeak._SENTENCES["train"], cuespeak._SENTENCES["heldout"]
    self.assertEqual(set(train), set(heldout))
    for kind in train:
      self.assertEmpty(set(train[kind]) & set(heldout[kind]))
      self.assertNotEmpty(heldout[kind])
    texts = {split: {line.text for s in self.scripts[split] for line in s.lines
                     if line.speaker == "user"} for split in common.SPLITS}
    instructions = {split: {s.truth["instruction"]["text"] for s in self.scripts[split]}
                    for split in common.SPLITS}
    self.assertEmpty(instructions["train"] & instructions["heldout"])
    # Whole sentences (not the cut pieces around foreign words, nor the words) differ too.
    sentences = {split: {t for t in texts[split] if len(t.split()) > 4} for split in texts}
    self.assertEmpty(sentences["train"] & sentences["heldout"])

  def test_templates_hold_no_slot_words(self):
    forbidden = slot_words()
    for split in common.SPLITS:
      for kind, templates in cuespeak._SENTENCES[split].items():
        for template in templates:
          self.assertEqual(template.count("{x}"), 0 if kind == "filler" else 1, template)
          found = set(re.findall(r"[a-zà-ü']+", template.replace("{x}", " ").lower()))
          self.assertEmpty(found & forbidden, template)

  def test_voices_are_disjoint(self):
    voices = {split: collections.Counter() for split in common.SPLITS}
    for split in common.SPLITS:
      for s in self.scripts[split]:
        english = None
        for line in s.lines:
          if line.speaker == "model":
            self.assertEqual(line.voice, common.ASSISTANT_VOICE)
            continue
          voices[split][line.voice.name] += 1
          language, _, variant = line.voice.name.partition("+")
          if line.voice.name in common.USER_VOICES[split]:
            english = english or line.voice
            self.assertEqual(line.voice, english)  # One user voice per episode.
          else:
            self.assertEqual(language, s.truth["rule_spec"]["voice"])
            self.assertIn(variant, sum(cuespeak.FOREIGN_VARIANTS[split].values(), ()))
            self.assertEqual((line.voice.rate, line.voice.pitch), (english.rate, english.pitch))
    self.assertEmpty(set(voices["train"]) & set(voices["heldout"]))
    self.assertTrue(any("+" in v and v.split("+")[0] == "es" for v in voices["train"]))

  def test_variety(self):
    truths = [s.truth for s in self.scripts["train"]]
    self.assertEqual({t["rule"] for t in truths}, set(cuespeak.RULES))
    self.assertGreaterEqual(len({t["instruction"]["text"] for t in truths}), 25)
    self.assertGreaterEqual(len({c["word"] for t in truths for c in t["cues"]}), 25)
    self.assertGreaterEqual(len({d["word"] for t in truths for d in t["distractors"]}), 20)
    self.assertEqual({d["kind"] for t in truths for d in t["distractors"]},
                     {"near_miss", "other_word", "english_number", "foreign_word",
                      "other_category"})
    self.assertGreaterEqual(len({len(t["cues"]) for t in truths}), 3)
    lines = {line.text for s in self.scripts["train"] for line in s.lines}
    self.assertGreaterEqual(len(lines), 80)

  def test_truth_structure(self):
    for split in common.SPLITS:
      for s in self.scripts[split]:
        truth = s.truth
        self.assertEqual(json.loads(json.dumps(truth)), truth)
        self.assertNotEmpty(truth["cues"])
        self.assertLen(truth["expected"], len(truth["cues"]))
        spec = truth["rule_spec"]
        for i, cue in enumerate(truth["cues"]):
          response = truth["expected"][cue["response"]]
          self.assertEqual(response["cue"], i)
          self.assertEqual(response["role"], "cue_response")
          # Answered from the start of the tick after the cue's last ms, within its window.
          self.assertEqual(response["start_tick"], cue["end_tick"] + 1)
          self.assertEqual(response["start_ms"], response["start_tick"] * 200)
          self.assertGreaterEqual(response["start_ms"], cue["end_ms"])
          self.assertEqual(response["window_ticks"], [cue["start_tick"] + 1, cue["end_tick"] + 3])
          self.assertLessEqual(response["window_ticks"][1], N_TICKS - 1)
          self.assertIn(response["normalized"], response["accept"])
          if truth["rule"] == "foreign_number":
            self.assertEqual(cue["language"], spec["voice"])
            _, numbers, _ = cuespeak._LANGUAGES[spec["language"]]
            n = numbers.index(cue["word"]) + 2
            self.assertEqual(response["normalized"], planning.number_word(n))
            self.assertIn(str(n), response["accept"])
          elif truth["rule"] == "word":
            self.assertEqual((cue["word"], response["normalized"]), (spec["cue"], spec["response"]))
          else:
            self.assertIn(cue["word"], spec["members"])
            self.assertEqual(response["normalized"], spec["response"])
        for d in truth["distractors"]:
          self.assertNotIn(d["word"], [c["word"] for c in truth["cues"]])
          if truth["rule"] == "category":
            self.assertNotIn(d["word"], spec["members"])
        starts = [u["start_ms"] for u in [truth["ack"]] + truth["expected"]]
        self.assertEqual(starts, sorted(starts))
        self.assertFalse(truth["ack"]["required"])
        for line in truth["lines"]:
          self.assertLessEqual(line["end_ms"], N_TICKS * 200)

  @parameterized.named_parameters(*st.AUDIO_LAYOUTS.items())
  def test_truth_holds_on_rendered_episode(self, layout):
    chosen, seen = [], set()
    for split in common.SPLITS:
      for s in self.scripts[split]:
        key = (split, s.truth["rule"])
        if key not in seen:
          seen.add(key)
          chosen.append(s)
    for s in chosen:
      with self.subTest(rule=s.truth["rule"], instruction=s.truth["instruction"]["text"]):
        self.check_rendered(s, st.render(s, layout))

  def check_rendered(self, s: episode.EpisodeScript, ep: episode.Episode):
    truth = s.truth
    st.assert_spoken_on_time(self, ep, [truth["ack"]] + truth["expected"])
    st.assert_silent_ticks(self, ep, truth["silent_spans"])
    # Cue and distractor words are heard where the truth says, with those words.
    for word in truth["cues"] + truth["distractors"]:
      self.assertGreater(st.rms(ep.mic, word["start_ms"], word["end_ms"]), 0.01, word["word"])
      heard = [w for w in ep.words
               if w.speaker == "user" and abs(w.start_ms - word["start_ms"]) <= 1]
      self.assertEqual([w.text for w in heard], [word["word"]])
    for line in truth["lines"]:
      self.assertGreater(st.rms(ep.mic, line["start_ms"], line["end_ms"]), 0.01, line["text"])
    self.assertEqual(st.rms(ep.mic, 0, truth["instruction"]["start_ms"]), 0.0)

  def test_responses_overlap_the_user(self):
    overlapping, total = 0, 0
    for s in self.scripts["train"]:
      lines = s.truth["lines"][1:]  # Not the instruction.
      for response in s.truth["expected"]:
        total += 1
        overlapping += any(line["start_ms"] < response["end_ms"] and
                           line["end_ms"] > response["start_ms"] for line in lines)
    self.assertGreater(overlapping / total, 0.5)

  def test_other_tick_lengths(self):
    s = script(3, n_ticks=150, tick_ms=100)
    for cue in s.truth["cues"]:
      response = s.truth["expected"][cue["response"]]
      self.assertEqual(response["start_tick"], (cue["end_ms"] - 1) // 100 + 1)
      self.assertEqual(response["start_ms"], response["start_tick"] * 100)

  @parameterized.parameters("train", "heldout")
  def test_every_draw_fits_the_minimum(self, split):
    n_ticks = cuespeak.min_ticks(200)
    self.assertEqual(n_ticks, 60)
    for seed in range(100, 115):
      s = script(seed, split, n_ticks)
      self.assertNotEmpty(s.truth["cues"])

  def test_too_short(self):
    with self.assertRaisesRegex(ValueError, r"cuespeak needs n_ticks >= 60 .*got n_ticks=30"):
      script(0, n_ticks=30)

  def test_unknown_split(self):
    with self.assertRaisesRegex(ValueError, "unknown split 'dev'"):
      script(0, "dev")


if __name__ == "__main__":
  absltest.main()
