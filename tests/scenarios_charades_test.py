"""Charades-like scenarios: determinism, disjoint splits, ground truth on rendered episodes.

Speech comes from the default speech cache ($MICROTURN_CACHE/speech, else
~/.cache/microturn/speech), the one training uses, so reruns are fast.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import dataclasses
import functools
import json
import re

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from data_pipelines import episode
from data_pipelines import scenes
from data_pipelines import speech_cache
from data_pipelines import stream
from data_pipelines import text
from data_pipelines import video
from data_pipelines.scenarios import charades
from data_pipelines.scenarios import common
from data_pipelines.stream import Slot

TINY = stream.TickLayout(frames_per_audio_token=2, video_height=40, video_width=40,
                         text_in_tokens=4, bg_in_tokens=4, text_out_tokens=4)
LAYOUTS = {"tiny": TINY, "default": stream.TickLayout(video_height=80, video_width=80)}
TICK_MS = 200
N_TICKS = 75


@functools.lru_cache(maxsize=None)
def make(seed: int, split: str = "train", n_ticks: int = N_TICKS) -> episode.EpisodeScript:
  return charades.make_script(np.random.default_rng(seed), split, n_ticks, TICK_MS)


@functools.lru_cache(maxsize=None)
def render(seed: int, layout_name: str) -> episode.Episode:
  return episode.render(make(seed), LAYOUTS[layout_name], speech_cache.SpeechCache())


def text_out(ep: episode.Episode) -> list[str]:
  """Per tick, the decoded text-out slots (pads dropped)."""
  rows = ep.ticks.tokens[:, ep.layout.span(Slot.TEXT_OUT)]
  return [text.decode([int(t) for t in row if t != text.PAD]) for row in rows]


def heard(track: np.ndarray, tick: int) -> bool:
  samples = TINY.samples_per_tick
  return bool(np.any(track[tick * samples:(tick + 1) * samples]))


def pattern(template: str) -> re.Pattern:
  """A regex matching `template` with any text in its {fields}."""
  pieces = re.split(r"\{\w+\}", template)
  return re.compile("(.+)".join(re.escape(p) for p in pieces))


def clause_pairs(sentence: str, action: str, split: str) -> list[tuple[str, str]]:
  """The (starts, ends) clauses of `split` for `action` that `sentence` uses."""
  return [(a, b) for a, b in charades._CLAUSES[action][split]
          if re.search(rf"\b{a}\b.*\b{b}\b", sentence)]


class CharadesTest(parameterized.TestCase):

  def test_family(self):
    self.assertEqual(charades.FAMILY.name, "charades")
    self.assertTrue(charades.FAMILY.needs_video)

  def test_same_seed_same_script_and_episode(self):
    first = charades.make_script(np.random.default_rng(4), "heldout", N_TICKS, TICK_MS)
    second = charades.make_script(np.random.default_rng(4), "heldout", N_TICKS, TICK_MS)
    self.assertEqual(first, second)
    self.assertEqual(json.dumps(first.truth, sort_keys=True),
                     json.dumps(second.truth, sort_keys=True))
    cache = speech_cache.SpeechCache()
    a, b = episode.render(first, TINY, cache), episode.render(second, TINY, cache)
    for field in dataclasses.fields(stream.PackedTicks):
      np.testing.assert_array_equal(getattr(a.ticks, field.name), getattr(b.ticks, field.name))
    np.testing.assert_array_equal(a.mic, b.mic)
    np.testing.assert_array_equal(a.model_audio, b.model_audio)
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
        self.assertTrue(any(pattern(t).fullmatch(request) for t in charades._REQUESTS[split]),
                        request)
        self.assertFalse(any(pattern(t).fullmatch(request) for t in charades._REQUESTS[other]),
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
    truth, scene, layout = ep.truth, ep.script.scene, ep.layout
    json.dumps(truth)
    self.assertIsInstance(scene, scenes.EventScene)
    event = truth["event"]
    s, e = event["start_tick"], event["end_tick"]
    self.assertEqual((s, e), scene.ticks(TICK_MS))
    self.assertEqual(event["description"], scene.description)
    # Video in every tick, the frame at each tick's end.
    self.assertTrue(ep.ticks.present[:, layout.span(Slot.VIDEO)].all())
    for t in (0, s, e, N_TICKS - 1):
      frame = scene.frame(scenes.frame_time_s(t, TICK_MS), layout.video_height, layout.video_width)
      np.testing.assert_array_equal(ep.ticks.video[t], video.patchify(frame))
    # Nothing happens until the request (and any ack) is over.
    request = truth["request"]
    first_action = min([event["start_ms"]] + [d["start_ms"] for d in truth["distractors"]])
    self.assertGreater(first_action, request["end_ms"] + 300)
    if truth["ack"]:
      self.assertGreater(first_action, truth["ack"]["end_ms"])
    self.assertFalse(np.any(ep.mic[:request["start_ms"] * 16]))
    self.assertTrue(heard(ep.mic, (request["start_tick"] + request["end_tick"]) // 2))
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
    chunks = text_out(ep)
    for u in (start, stop):
      # Its text goes out in the tick before it is heard, and it is heard from then.
      self.assertTrue(u["text"].startswith(chunks[u["tick"] - 1]), (chunks[u["tick"] - 1], u))
      self.assertNotIn("<silence>", chunks[u["tick"] - 1])
      self.assertFalse(heard(ep.model_audio, u["tick"] - 1))
      self.assertTrue(heard(ep.model_audio, u["tick"]))
    spoken = "".join(c for c in chunks if c != "<silence>")
    ack = truth["ack"]["text"] if truth["ack"] else ""
    self.assertEqual(spoken, ack + start["text"] + stop["text"])
    # Silent spans: no model audio, <silence> in the text-out of the tick before.
    quiet = {t for q in truth["silent_spans"] for t in range(q["start_tick"], q["end_tick"])}
    for t in quiet:
      self.assertFalse(heard(ep.model_audio, t), t)
      if t:
        self.assertEqual(chunks[t - 1], "<silence>", t)
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
