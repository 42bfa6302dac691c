"""ProactiveVideoQA scenarios: determinism, disjoint splits, ground truth on rendered episodes.

Speech comes from the default speech cache ($MICROTURN_CACHE/speech, else
~/.cache/microturn/speech), the one training uses, so reruns are fast.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import json

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from data_pipelines import scenes
from data_pipelines.scenarios import common
from data_pipelines.scenarios import planning
from data_pipelines.scenarios import proactive_qa
from tests import scenarios_testing as st

TICK_MS = st.TICK_MS
N_TICKS = 75


make = st.script_maker(proactive_qa.make_script, N_TICKS)
render = st.renderer(make, st.VIDEO_LAYOUTS)


class ProactiveQATest(parameterized.TestCase):

  def test_family(self):
    st.assert_family(self, proactive_qa, "proactive_qa", needs_video=True)

  def test_same_seed_same_script_and_episode(self):
    first = st.assert_deterministic(
        self,
        lambda: proactive_qa.make_script(np.random.default_rng(8), "heldout", N_TICKS, TICK_MS),
        st.TINY_VIDEO)
    self.assertNotEqual(make(9).truth, first.truth)

  def test_splits_use_disjoint_phrasings_and_voices(self):
    for table in (proactive_qa._WHERE, proactive_qa._ARE_WHERE, proactive_qa._QUESTIONS):
      for by_split in table.values():
        self.assertEmpty(set(by_split["train"]) & set(by_split["heldout"]))
    for split, other in (("train", "heldout"), ("heldout", "train")):
      voices = set()
      for seed in range(40):
        script = make(seed, split)
        truth = script.truth
        question = truth["question"]["text"]
        templates = proactive_qa._QUESTIONS[truth["kind"]]
        self.assertTrue(any(st.pattern(t).fullmatch(question) for t in templates[split]), question)
        self.assertFalse(any(st.pattern(t).fullmatch(question) for t in templates[other]), question)
        where = proactive_qa._WHERE[truth["mechanism"]]
        are_where = proactive_qa._ARE_WHERE[truth["mechanism"]]
        self.assertTrue(any(w in question for w in where[split] + are_where[split]), question)
        self.assertFalse(any(w in question for w in where[other] + are_where[other]), question)
        voices |= {line.voice.name for line in script.lines if line.speaker == "user"}
      self.assertLessEqual(voices, set(common.USER_VOICES[split]))
      self.assertGreater(len(voices), 2)

  @parameterized.product(seed=[0, 1, 4, 6], layout_name=["tiny", "default"])
  def test_truth_holds_on_the_rendered_episode(self, seed, layout_name):
    ep = render(seed, layout_name)
    truth, scene = ep.truth, ep.script.scene
    json.dumps(truth)
    self.assertIsInstance(scene, scenes.RevealScene)
    self.assertEqual((truth["kind"], truth["mechanism"]), (scene.kind, scene.mechanism))
    self.assertEqual(truth["answer"]["text"], scene.answer)
    # Video in every tick, the frame at each tick's end.
    r = truth["reveal"]["tick"]
    st.assert_frames(self, ep, (0, r - 1, r, N_TICKS - 1))
    # Frame r is the first to show the whole answer; the reveal starts after the question.
    self.assertEqual(r, scene.reveal_tick(TICK_MS))
    self.assertLess(scenes.frame_time_s(r - 1, TICK_MS) * 1000, truth["reveal"]["end_ms"])
    self.assertGreaterEqual(scenes.frame_time_s(r, TICK_MS) * 1000, truth["reveal"]["end_ms"])
    question = truth["question"]
    self.assertGreater(truth["no_answer_before"]["ms"], question["end_ms"] + 1000)
    st.assert_request_heard(self, ep, question)
    self.assertTrue(np.any(ep.mic[(question["end_ms"] - 50) * 16:question["end_ms"] * 16]))
    # The reply span lies inside the episode and starts at the reveal.
    span = truth["reply_span"]
    self.assertEqual(span["end_ms"] - span["start_ms"], proactive_qa.REPLY_SPAN_MS)
    self.assertEqual(span["start_ms"], round(truth["reveal"]["end_ms"]))
    self.assertLessEqual(span["end_ms"], N_TICKS * TICK_MS)

    (answer,) = truth["expected"]
    self.assertEqual((answer["tick"], answer["window_ticks"]), (r + 1, [r + 1, r + 3]))
    self.assertIn(answer["normalized"], truth["answer"]["accept"])
    self.assertIn(truth["answer"]["normalized"], truth["answer"]["accept"])
    self.assertTrue(span["start_ms"] <= answer["start_ms"] < span["end_ms"])
    chunks = st.text_out(ep)
    # Its text goes out in the tick before it is heard, and it is heard from then.
    st.assert_reaction_heard(self, ep, chunks, answer)
    spoken = "".join(c for c in chunks if c != "<silence>")
    ack = truth["ack"]["text"] if truth["ack"] else ""
    self.assertEqual(spoken, ack + answer["text"])
    # Silent from the question (or the ack) until the answer: nothing in text-out but
    # <silence>, no audio.
    after = (truth["ack"]["end_ms"] if truth["ack"] else question["end_ms"]) // TICK_MS + 1
    for t in range(after, r):
      self.assertEqual(chunks[t], "<silence>", t)
      self.assertFalse(st.heard(ep.model_audio, t + 1), t)
    quiet = st.exclusive_ticks(truth["silent_spans"])
    st.assert_quiet(self, ep, chunks, quiet)
    self.assertNotIn(r + 1, quiet)
    # Before the reveal starts the model says at most its ack; then the answer.
    model_words = [w for w in ep.words if w.speaker == "model"]
    early = [w.text for w in model_words if w.start_ms < truth["no_answer_before"]["ms"]]
    self.assertEqual(planning.normalize_numbers(" ".join(early)),
                     truth["ack"]["normalized"] if truth["ack"] else "")
    self.assertEqual(model_words[len(early)].start_ms, answer["start_ms"])
    self.assertEqual([m["label"] for m in truth["marks"]],
                     ["question", "reveal", f"reply span: {scene.answer}"])

  def test_answers_match_the_scene(self):
    for seed in range(60):
      truth = make(seed).truth
      scene = make(seed).scene
      accept = truth["answer"]["accept"]
      self.assertIn(planning.normalize_numbers(truth["expected"][0]["text"]), accept)
      if truth["kind"] == "count":
        n = len(scene.positions)
        self.assertEqual(truth["answer"]["text"], scenes.NUMBER_WORDS[n])
        self.assertIn(planning.normalize_numbers(str(n)), accept)
      for other in scenes.COLOURS if truth["kind"] == "colour" else scenes.SHAPES:
        if other != truth["answer"]["text"] and truth["kind"] != "count":
          self.assertNotIn(other, accept)
      if truth["ack"]:
        self.assertNotIn(truth["answer"]["text"], truth["ack"]["normalized"].split())

  def test_variety(self):
    truths = [make(seed).truth for seed in range(50)]
    self.assertGreater(len({t["question"]["text"] for t in truths}), 35)
    self.assertEqual({t["kind"] for t in truths}, set(scenes.REVEAL_KINDS))
    self.assertEqual({t["mechanism"] for t in truths}, set(scenes.MECHANISMS))
    self.assertGreater(len({t["reveal"]["tick"] for t in truths}), 15)
    self.assertGreater(len({t["expected"][0]["text"] for t in truths}), 15)
    self.assertLen({t["ack"] is None for t in truths}, 2)
    self.assertEqual({len(t["distractors"]) for t in truths}, {0, 1, 2})

  def test_length_limits(self):
    shortest = proactive_qa.min_ticks(TICK_MS)
    self.assertLessEqual(shortest, N_TICKS)
    for seed in range(30):
      for split in common.SPLITS:
        truth = make(seed, split, shortest).truth
        self.assertLessEqual(truth["reply_span"]["end_ms"], shortest * TICK_MS)
    self.assertEqual(make(1, n_ticks=150).n_ticks, 150)
    with self.assertRaisesRegex(ValueError, f"proactive_qa needs n_ticks >= {shortest}"):
      proactive_qa.make_script(np.random.default_rng(0), "train", shortest - 1, TICK_MS)
    with self.assertRaisesRegex(ValueError, "unknown split"):
      proactive_qa.make_script(np.random.default_rng(0), "dev", N_TICKS, TICK_MS)


if __name__ == "__main__":
  absltest.main()
