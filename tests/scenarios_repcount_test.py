"""RepCount scenarios: determinism, disjoint splits, ground truth on rendered episodes, variety.

Speech comes from the default speech cache ($MICROTURN_CACHE/speech, else
~/.cache/microturn/speech), the one training uses, so reruns are fast.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import collections
import json

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from data_pipelines import scenes
from data_pipelines.scenarios import common
from data_pipelines.scenarios import planning
from data_pipelines.scenarios import repcount
from tests import scenarios_testing as st

TICK_MS = st.TICK_MS
N_TICKS = 75


make = st.script_maker(repcount.make_script, N_TICKS)
render = st.renderer(make, st.VIDEO_LAYOUTS)


class RepCountTest(parameterized.TestCase):

  def test_family(self):
    st.assert_family(self, repcount, "repcount", needs_video=True)

  def test_same_seed_same_script_and_episode(self):
    first = st.assert_deterministic(
        self, lambda: repcount.make_script(np.random.default_rng(5), "heldout", N_TICKS, TICK_MS),
        st.TINY_VIDEO)
    self.assertNotEqual(make(6).truth, first.truth)

  def test_splits_use_disjoint_phrasings_and_voices(self):
    requests = repcount._REQUESTS
    self.assertEmpty(set(requests["train"]) & set(requests["heldout"]))
    for split, other in (("train", "heldout"), ("heldout", "train")):
      voices = set()
      for seed in range(40):
        script = make(seed, split)
        sentence = script.truth["request"]["text"]
        self.assertNotEmpty(st.matching(sentence, requests[split]), sentence)
        self.assertEmpty(st.matching(sentence, requests[other]), sentence)
        voices |= {line.voice.name for line in script.lines if line.speaker == "user"}
        self.assertTrue(all(line.voice == common.ASSISTANT_VOICE
                            for line in script.lines if line.speaker == "model"))
      self.assertLessEqual(voices, set(common.USER_VOICES[split]))
      self.assertGreater(len(voices), 2)

  @parameterized.product(seed=[0, 3, 11], layout_name=["tiny", "default"])
  def test_truth_holds_on_the_rendered_episode(self, seed, layout_name):
    ep = render(seed, layout_name)
    truth, scene = ep.truth, ep.script.scene
    json.dumps(truth)
    self.assertIsInstance(scene, scenes.RepCountScene)
    # The count is the scene's, one expected number per repetition, in order.
    self.assertEqual(truth["count"], scene.n_reps)
    self.assertLen(truth["expected"], scene.n_reps)
    self.assertEqual(truth["completion_ticks"], list(scene.completion_ticks(TICK_MS)))
    # Video in every tick, the frame at each tick's end.
    st.assert_frames(self, ep, (0, truth["completion_ticks"][0], N_TICKS - 1))
    # The shape rests until the request (and any ack) is over.
    self.assertGreater(scene.start_s * 1000, truth["request"]["end_ms"])
    # The request is heard where truth puts it.
    request = truth["request"]
    st.assert_request_heard(self, ep, request)
    self.assertTrue(np.any(ep.mic[(request["end_ms"] - 50) * 16:request["end_ms"] * 16]))

    chunks = st.text_out(ep)
    for k, u in enumerate(truth["expected"], start=1):
      c = truth["completion_ticks"][k - 1]
      self.assertEqual((u["count"], u["text"]), (k, planning.number_word(k).capitalize() + "."))
      self.assertEqual((u["tick"], u["window_ticks"]), (c + 1, [c, c + 3]))
      self.assertEqual(scenes.tick_of(u["evidence_ms"] / 1000, TICK_MS), c)
      # Its text goes out in the tick before it is heard, and it is heard from then.
      st.assert_reaction_heard(self, ep, chunks, u)
    # The model says exactly the ack (if any) and the numbers, in order, and nothing overlaps.
    spoken = "".join(c for c in chunks if c != "<silence>")
    ack = truth["ack"]["text"] if truth["ack"] else ""
    self.assertEqual(spoken, ack + "".join(u["text"] for u in truth["expected"]))
    model_words = [w for w in ep.words if w.speaker == "model"]
    for before, after in zip(model_words, model_words[1:]):
      self.assertLessEqual(before.end_ms, after.start_ms)
    self.assertEqual(planning.normalize_numbers(model_words[-1].text),
                     planning.number_word(truth["count"]))
    # Silent spans: no model audio, and <silence> in the text-out of the tick before.
    quiet = st.exclusive_ticks(truth["silent_spans"])
    self.assertNotEmpty(quiet)
    st.assert_quiet(self, ep, chunks, quiet)
    # Between counts the target is silent: only ticks from an utterance's first text
    # tick to about its end hold anything but <silence>.
    busy = set()
    for u in ([truth["ack"]] if truth["ack"] else []) + truth["expected"]:
      busy |= set(range(u["tick"] - 1, (u["end_ms"] + 50) // TICK_MS + 1))
    self.assertLessEqual({t for t, c in enumerate(chunks) if c != "<silence>"}, busy)
    # Marks: the request and one per completion.
    self.assertEqual([m["label"] for m in truth["marks"]],
                     ["request"] + [f"rep {k}" for k in range(1, truth["count"] + 1)])
    self.assertTrue(all(0 <= m["start_ms"] <= N_TICKS * TICK_MS for m in truth["marks"]))

  def test_windows_are_disjoint_and_inside_the_episode(self):
    for seed in range(50):
      truth = make(seed).truth
      windows = [u["window_ticks"] for u in truth["expected"]]
      for (_, hi), (lo, _) in zip(windows, windows[1:]):
        self.assertLess(hi, lo)
      self.assertLess(windows[-1][1], N_TICKS)
      self.assertLessEqual(truth["expected"][-1]["end_ms"], N_TICKS * TICK_MS - 1000)
      if truth["ack"]:
        self.assertLess(truth["ack"]["end_ms"], truth["motion_span"]["start_ms"])

  def test_variety(self):
    scripts = [make(seed) for seed in range(50)]
    truths = [s.truth for s in scripts]
    self.assertGreater(len({t["request"]["text"] for t in truths}), 40)
    self.assertGreaterEqual(len({t["count"] for t in truths}), 6)
    self.assertLen({t["subject"]["motion"] for t in truths}, len(scenes.MOTIONS))
    self.assertGreater(len({t["completion_ticks"][0] for t in truths}), 10)
    self.assertLen({t["distractor"] is None for t in truths}, 2)
    self.assertLen({t["ack"] is None for t in truths}, 2)
    counts = collections.Counter(t["count"] for t in truths)
    self.assertGreater(min(counts), 1)

  def test_length_limits(self):
    shortest = repcount.min_ticks(TICK_MS)
    self.assertLessEqual(shortest, N_TICKS)
    for seed in range(30):
      for split in common.SPLITS:
        script = make(seed, split, shortest)
        self.assertGreaterEqual(script.truth["count"], 2)
    long = make(1, n_ticks=150)
    self.assertEqual(long.n_ticks, 150)
    self.assertLen(long.truth["expected"], long.truth["count"])
    with self.assertRaisesRegex(ValueError, f"repcount needs n_ticks >= {shortest}"):
      repcount.make_script(np.random.default_rng(0), "train", shortest - 1, TICK_MS)
    with self.assertRaisesRegex(ValueError, "unknown split"):
      repcount.make_script(np.random.default_rng(0), "test", N_TICKS, TICK_MS)

  def test_other_tick_lengths(self):
    script = repcount.make_script(np.random.default_rng(2), "train", 150, 100)
    truth = script.truth
    self.assertEqual(truth["completion_ticks"], list(script.scene.completion_ticks(100)))
    for u in truth["expected"]:
      self.assertEqual(u["tick"], u["evidence_tick"] + 1)
      self.assertEqual(u["start_ms"], u["tick"] * 100)

  def test_normalize(self):
    self.assertEqual(planning.normalize_numbers("3 Circles!"), "three circles")
    self.assertEqual(planning.normalize_numbers("It's  RED."), "it's red")
    self.assertEqual(planning.normalize_numbers("Twenty-1"), "twenty one")


if __name__ == "__main__":
  absltest.main()
