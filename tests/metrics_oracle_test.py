"""eval.metrics on real heldout episodes: the oracle scores perfectly, silence scores ~0.

The oracle is read two ways: `oracle_output` (the script's model lines with
espeak word times) and `from_ticks` over the rendered episode's text-out slots
and model audio (what a streaming run that reproduces the targets yields).
Speech comes from the default speech cache, so reruns are fast.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import functools

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from data_pipelines import pipeline
from data_pipelines import speech_cache
from data_pipelines import stream
from data_pipelines import text
from data_pipelines.stream import Slot
from eval import metrics

LAYOUT = stream.TickLayout(frames_per_audio_token=2, video_height=40, video_width=40,
                           text_in_tokens=4, bg_in_tokens=4, text_out_tokens=6)
INDICES = (0, 1, 2)
CACHE = speech_cache.SpeechCache()
SILENT = metrics.ModelOutput()


@functools.lru_cache(maxsize=None)
def episode(family, index):
  return pipeline.build_episode(family, index, split="heldout", seed=0, n_ticks=75,
                                layout=LAYOUT, cache=CACHE)


def rendered_output(ep):
  """`from_ticks` over the episode's text-out slots and audible model ticks."""
  rows = ep.ticks.tokens[:, ep.layout.span(Slot.TEXT_OUT)]
  text_out = [text.decode(row, skip_special=True, errors="replace") for row in rows]
  delegate = [t for t, row in enumerate(rows) if text.DELEGATE in row]
  samples = ep.layout.samples_per_tick
  heard = [bool(np.any(ep.model_audio[t * samples:(t + 1) * samples]))
           for t in range(ep.script.n_ticks)]
  return metrics.from_ticks(text_out, heard, ep.layout.tick_ms, delegate)


OUTPUTS = {"oracle": lambda ep: metrics.oracle_output(ep, CACHE), "rendered": rendered_output}
CASES = [(f"{way}_{index}", way, index) for way in OUTPUTS for index in INDICES]


class OracleTest(parameterized.TestCase):

  @parameterized.named_parameters(
      (f"{family}_{name}", family, way, index) for family in
      ("timespeak", "cuespeak", "repcount", "proactive_qa", "charades")
      for name, way, index in CASES)
  def test_timing_is_perfect(self, family, way, index):
    ep = episode(family, index)
    r = metrics.timing_accuracy(ep.truth, OUTPUTS[way](ep))
    self.assertEqual((r.accuracy, r.silent_speech_ms, r.clean), (1.0, 0, True))
    silent = metrics.timing_accuracy(ep.truth, SILENT)
    self.assertEqual((silent.accuracy, silent.clean), (0.0, False))

  @parameterized.named_parameters(CASES)
  def test_repcount(self, way, index):
    ep = episode("repcount", index)
    r = metrics.repcount_score(ep.truth, OUTPUTS[way](ep))
    self.assertEqual((r.predicted, r.obo, r.mae), (ep.truth["count"], True, 0.0))
    silent = metrics.repcount_score(ep.truth, SILENT)
    self.assertGreater(silent.mae, 0.9)
    self.assertFalse(silent.obo)

  @parameterized.named_parameters(CASES)
  def test_pauc(self, way, index):
    ep = episode("proactive_qa", index)
    r = metrics.pauc(ep.truth, OUTPUTS[way](ep))
    # Heard within 0-2 ticks of the reveal frame, so at most ~0.6 s into the 2 s span.
    self.assertGreater(r.pauc, 0.9)
    self.assertFalse(r.early_answer)
    self.assertEqual(metrics.pauc(ep.truth, SILENT).pauc, metrics.proactive.NO_ANSWER_SCORE)

  @parameterized.named_parameters(CASES)
  def test_charades(self, way, index):
    ep = episode("charades", index)
    r = metrics.charades_score(ep.truth, OUTPUTS[way](ep))
    event = ep.truth["event"]
    tick_ms = ep.truth["tick_ms"]
    # Each heard word lies within its reaction window: at most 3 ticks after its edge.
    self.assertLessEqual(abs(r.predicted[0] - event["start_ms"]), 3 * tick_ms)
    self.assertLessEqual(abs(r.predicted[1] - event["end_ms"]), 3 * tick_ms)
    length = event["end_ms"] - event["start_ms"]
    self.assertGreater(r.iou, (length - 2 * 3 * tick_ms) / length)
    self.assertGreater(r.iou, 0.7)
    self.assertEqual(metrics.charades_score(ep.truth, SILENT).iou, 0.0)

  @parameterized.named_parameters(CASES)
  def test_delegation(self, way, index):
    ep = episode("delegation", index)
    r = metrics.delegation_score(ep.truth, OUTPUTS[way](ep))
    self.assertTrue(all(r.delegated) and all(r.answered))
    silent = metrics.delegation_score(ep.truth, SILENT)
    self.assertFalse(any(silent.delegated) or any(silent.answered))

  @parameterized.named_parameters(
      (f"{name}_{kind}", way, index, kind) for name, way, index in CASES
      for kind in ("pause", "smooth", "backchannel", "interruption", "ignore"))
  def test_turntaking(self, way, index, kind):
    ep = turntaking_episode(kind, index)
    truth = ep.truth
    r = metrics.turntaking_score(truth, OUTPUTS[way](ep))
    responses = [truth["model_utterances"][u["response"]] for u in truth["user_turns"]
                 if u["response"] is not None]
    expected_tor = tuple(len(u["text"].split()) > 3 or u["end_ms"] - u["start_ms"] >= 1000
                         for u in responses)
    self.assertEqual(r.turn_over, expected_tor)
    for latency in r.response_latency_ms:
      self.assertBetween(latency, 0, 1200)
    self.assertNotIn(True, r.pause_turn_over + r.ignore_turn_over)
    self.assertNotIn(False, r.yielded + r.kept_talking)
    self.assertLen(r.yielded, len(truth["interruptions"]))
    self.assertLen(r.kept_talking, len(truth["keep_talking_spans"]))
    for cut, latency in zip(truth["interruptions"], r.yield_latency_ms):
      self.assertBetween(latency, 0, cut["yield_deadline_ms"] - cut["start_ms"])
    silent = metrics.turntaking_score(truth, SILENT)
    self.assertNotIn(True, silent.turn_over + silent.kept_talking)


@functools.lru_cache(maxsize=None)
def turntaking_episode(kind, index):
  """The first heldout turntaking episode of `kind` at or after a per-index offset."""
  for i in range(20 * index, 20 * index + 200):
    ep = episode("turntaking", i)
    if ep.truth["kind"] == kind:
      return ep
  raise AssertionError(f"no turntaking episode of kind {kind!r}")


if __name__ == "__main__":
  absltest.main()
