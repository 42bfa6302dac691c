"""Charades-like scenarios: determinism, disjoint splits, ground truth on rendered episodes.

Speech comes from the default speech cache ($MICROTURN_CACHE/speech, else
~/.cache/microturn/speech), the one training uses, so reruns are fast.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import json
import re

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from data_pipelines import scenes
from data_pipelines.scenarios import charades
from data_pipelines.scenarios import common
from tests import scenarios_testing as st

TICK_MS = st.TICK_MS
N_TICKS = 75


make = st.script_maker(charades.make_script, N_TICKS)
render = st.renderer(make, st.VIDEO_LAYOUTS)


def clause_pairs(sentence: str, action: str, split: str) -> list[tuple[str, str]]:
  """The (starts, ends) clauses of `split` for `action` that `sentence` uses."""
  return [(a, b) for a, b in charades._CLAUSES[action][split]
          if re.search(rf"\b{a}\b.*\b{b}\b", sentence)]



class CharadesTest(parameterized.TestCase):

  def test_family(self):
    st.assert_family(self, charades, "charades", needs_video=True)

  def test_same_seed_same_script_and_episode(self):
    first = st.assert_deterministic(
        self, lambda: charades.make_script(np.random.default_rng(4), "heldout", N_TICKS, TICK_MS),
        st.TINY_VIDEO)
    self.assertNotEqual(make(5).truth, first.truth)

  def test_splits_use_disjoint_phrasings_and_voices(self):
    self.assertEmpty(set(charades._REQUESTS["train"]) & set(charades._REQUESTS["heldout"]))
    for by_split in charades._CLAUSES.values():
      self.assertEmpty(set(by_split["train"]) & set(by_split["heldout"]))
    for split, other in (("train", "heldout"), ("heldout", "train")):
      voices = set()
      for seed in range(40):
        script = make(seed, split)
        truth = script.truth
        request, action = truth["request"]["text"], truth["event"]["action"]
        self.assertTrue(any(st.pattern(t).fullmatch(request) for t in charades._REQUESTS[split]),
                        request)
        self.assertFalse(any(st.pattern(t).fullmatch(request) for t in charades._REQUESTS[other]),
                         request)
        self.assertNotEmpty(clause_pairs(request, action, split), request)
        self.assertEmpty(clause_pairs(request, action, other), request)
        self.assertIn(f"the {truth['event']['colour']} {truth['event']['shape']}", request)
        voices |= {line.voice.name for line in script.lines if line.speaker == "user"}
      self.assertLessEqual(voices, set(common.USER_VOICES[split]))
      self.assertGreater(len(voices), 2)

  @parameterized.product(seed=[0, 1, 2, 5], layout_name=["tiny", "default"])
  def test_truth_holds_on_the_rendered_episode(self, seed, layout_name):
    ep = render(seed, layout_name)
    truth, scene = ep.truth, ep.script.scene
    json.dumps(truth)
    self.assertIsInstance(scene, scenes.EventScene)
    event = truth["event"]
    s, e = event["start_tick"], event["end_tick"]
    self.assertEqual((s, e), scene.ticks(TICK_MS))
    self.assertEqual(event["description"], scene.description)
    # Video in every tick, the frame at each tick's end.
    st.assert_frames(self, ep, (0, s, e, N_TICKS - 1))
    # Nothing happens until the request (and any ack) is over.
    request = truth["request"]
    first_action = min([event["start_ms"]] + [d["start_ms"] for d in truth["distractors"]])
    self.assertGreater(first_action, request["end_ms"] + 300)
    if truth["ack"]:
      self.assertGreater(first_action, truth["ack"]["end_ms"])
    st.assert_request_heard(self, ep, request)
    # Distractors never overlap the event.
    for d in truth["distractors"]:
      self.assertTrue(d["end_ms"] < event["start_ms"] or d["start_ms"] > event["end_ms"], d)

    start, stop = truth["expected"]
    self.assertEqual((start["cue"], stop["cue"]), ("start", "stop"))
    self.assertEqual(start["text"], truth["words"]["start"].capitalize() + ".")
    self.assertEqual(stop["text"], truth["words"]["stop"].capitalize() + ".")
    self.assertEqual((start["tick"], start["window_ticks"]), (s + 1, [s + 1, s + 3]))
    lag = 1 if event["action"] == "spin" else 0
    self.assertEqual((stop["tick"], stop["window_ticks"]), (e + 1 + lag, [e + 1, e + 3 + lag]))
    chunks = st.text_out(ep)
    for u in (start, stop):
      # Its text goes out in the tick before it is heard, and it is heard from then.
      st.assert_reaction_heard(self, ep, chunks, u)
    spoken = "".join(c for c in chunks if c != "<silence>")
    ack = truth["ack"]["text"] if truth["ack"] else ""
    self.assertEqual(spoken, ack + start["text"] + stop["text"])
    # Silent spans: no model audio, <silence> in the text-out of the tick before.
    quiet = set(st.exclusive_ticks(truth["silent_spans"]))
    st.assert_quiet(self, ep, chunks, quiet)
    # Between the words the target is quiet, and through each distractor action.
    for t in range(start["end_ms"] // TICK_MS + 1, stop["tick"] - 1):
      self.assertEqual(chunks[t], "<silence>", t)
    for d in truth["distractors"]:
      for t in range(d["start_tick"], d["end_tick"] + 2):
        if d["end_ms"] < event["start_ms"]:
          self.assertIn(t, quiet)
        self.assertNotIn(truth["words"]["start"].capitalize(), chunks[t])
    labels = [m["label"] for m in truth["marks"]]
    self.assertEqual(labels[:2], ["request", f"event: {scene.description}"])
    self.assertLen(labels, 2 + len(truth["distractors"]))

  def test_prediction_of_the_target_overlaps_the_event(self):
    """Taking the target's words as the predicted span gives a high temporal IoU."""
    for seed in range(40):
      truth = make(seed).truth
      event = truth["event"]
      start, stop = (u["start_ms"] for u in truth["expected"])
      inter = max(0.0, min(stop, event["end_ms"]) - max(start, event["start_ms"]))
      union = max(stop, event["end_ms"]) - min(start, event["start_ms"])
      self.assertGreater(inter / union, 0.5, truth["event"])

  def test_variety(self):
    truths = [make(seed).truth for seed in range(50)]
    self.assertGreater(len({t["request"]["text"] for t in truths}), 40)
    self.assertEqual({t["event"]["action"] for t in truths}, set(scenes.ACTIONS))
    self.assertEqual({len(t["distractors"]) for t in truths}, {0, 1, 2})
    self.assertGreater(len({(t["event"]["start_tick"], t["event"]["end_tick"])
                            for t in truths}), 30)
    self.assertGreater(len({tuple(t["words"].values()) for t in truths}), 2)
    self.assertLen({t["ack"] is None for t in truths}, 2)

  def test_length_limits(self):
    shortest = charades.min_ticks(TICK_MS)
    self.assertLessEqual(shortest, N_TICKS)
    for seed in range(30):
      for split in common.SPLITS:
        truth = make(seed, split, shortest).truth
        self.assertLess(truth["expected"][-1]["window_ticks"][1], shortest)
    self.assertEqual(make(1, n_ticks=150).n_ticks, 150)
    with self.assertRaisesRegex(ValueError, f"charades needs n_ticks >= {shortest}"):
      charades.make_script(np.random.default_rng(0), "train", shortest - 1, TICK_MS)
    with self.assertRaisesRegex(ValueError, "unknown split"):
      charades.make_script(np.random.default_rng(0), "val", N_TICKS, TICK_MS)


if __name__ == "__main__":
  absltest.main()
