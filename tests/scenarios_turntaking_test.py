"""Turn-taking scenarios: determinism, disjoint splits, ground truth on rendered episodes, variety.

Speech comes from the default speech cache ($MICROTURN_CACHE/speech, else
~/.cache/microturn/speech), the one training uses, so reruns are fast.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import functools
import json
import math

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from data_pipelines import episode
from data_pipelines import text
from data_pipelines.scenarios import common
from data_pipelines.scenarios import planning
from data_pipelines.scenarios import turntaking
from tests import scenarios_testing as st

TICK_MS = st.TICK_MS
N_TICKS = 110
MIN_TICKS = math.ceil(turntaking.MIN_MS / TICK_MS)
# The byte text of the model's speech lags its audio by a few ticks at 4 slots per tick.
MAX_TEXT_LAG_TICKS = 5


make = st.script_maker(turntaking.make_script, N_TICKS)


@functools.lru_cache(maxsize=None)
def render(seed: int, kind: str, layout_name: str) -> episode.Episode:
  return st.render(make(seed, kinds=(kind,)), st.AUDIO_LAYOUTS[layout_name])


def first_byte_ticks(ep: episode.Episode) -> list[int]:
  """The tick in which each model utterance's first byte leaves the FIFO text queue."""
  starts, emitted = [], 0
  utterances = ep.truth["model_utterances"]
  offsets = np.cumsum([0] + [len(text.encode(u["text"])) for u in utterances])
  for tick, row in enumerate(st.slot_tokens(ep)):
    for token in row:
      if token < text.N_BYTES:
        if emitted in offsets[:-1]:
          starts.append(tick)
        emitted += 1
  return starts


class TurnTakingTest(parameterized.TestCase):

  @parameterized.parameters(*turntaking.KINDS)
  def test_same_seed_same_script_and_episode(self, kind):
    st.assert_deterministic(
        self, lambda: turntaking.make_script(np.random.default_rng(7), "train", N_TICKS, TICK_MS,
                                             (kind,)),
        st.TINY_AUDIO)

  def test_truth_is_json(self):
    for seed in range(10):
      truth = make(seed).truth
      self.assertEqual(json.loads(json.dumps(truth)), truth)
      self.assertEqual(truth["family"], "turntaking")
      self.assertIn(truth["kind"], turntaking.KINDS)

  def test_phrasing_tables_are_disjoint_between_splits(self):
    tables = {"exchanges": {s: [x.question for x in turntaking.EXCHANGES[s]]
                            for s in common.SPLITS}}
    for name in ("FILLERS", "BACKCHANNELS", "STOPS", "REDIRECTS", "SHORTEN", "SIDE_TALK",
                 "RETURNS", "BACKGROUND"):
      tables[name] = getattr(turntaking, name)
    for name, table in tables.items():
      with self.subTest(name):
        self.assertEmpty(set(table["train"]) & set(table["heldout"]))

  def test_sampled_splits_share_no_voice_or_user_phrasing(self):
    said = {split: set() for split in common.SPLITS}
    voices = {split: set() for split in common.SPLITS}
    for split in common.SPLITS:
      for seed in range(30):
        script = make(seed, split)
        for line in script.lines:
          if line.speaker == "model":
            self.assertEqual(line.voice, common.ASSISTANT_VOICE)
            continue
          pool = common.USER_VOICES if line.speaker == "user" else common.OTHER_VOICES
          self.assertIn(line.voice.name, pool[split])
          voices[split].add(line.voice.name)
        truth = script.truth
        said[split].update(t["text"] for t in truth["user_turns"])
        said[split].update(s["text"] for s in truth["keep_talking_spans"])
        said[split].update(s["text"] for s in truth["silent_spans"] if "text" in s)
    self.assertEmpty(said["train"] & said["heldout"])
    self.assertEmpty(voices["train"] & voices["heldout"])

  @parameterized.product(kind=turntaking.KINDS, layout_name=list(st.AUDIO_LAYOUTS))
  def test_ground_truth_holds_on_the_rendered_episode(self, kind, layout_name):
    for seed in (1, 2):
      ep = render(seed, kind, layout_name)
      truth, tick, end_ms = ep.truth, TICK_MS, N_TICKS * TICK_MS
      self.assertEqual(truth["kind"], kind)
      utterances = truth["model_utterances"]
      # Every model line is a target utterance, in time order.
      model_lines = [l for l in ep.script.lines if l.speaker == "model"]
      self.assertEqual([l.text for l in model_lines], [u["text"] for u in utterances])
      self.assertEqual([l.start_ms for l in model_lines], [u["start_ms"] for u in utterances])
      spans = (truth["user_turns"] + utterances + truth["silent_spans"]
               + truth["keep_talking_spans"] + truth["interruptions"])
      for s in spans:
        self.assertBetween(s["start_ms"], 0, s["end_ms"])
        self.assertLessEqual(s["end_ms"], end_ms)
        self.assertEqual(s["start_tick"], s["start_ms"] // tick)
        self.assertEqual(s["end_tick"], max(s["start_ms"], s["end_ms"] - 1) // tick)

      # The text-out channel carries exactly the utterances, never early, at most a few ticks late.
      outs = st.slot_tokens(ep)
      decoded = text.decode([t for row in outs for t in row], skip_special=True)
      self.assertEqual(decoded, "".join(u["text"] for u in utterances))
      for u, first in zip(utterances, first_byte_ticks(ep), strict=True):
        self.assertBetween(first, u["start_tick"] - 1, u["start_tick"] - 1 + MAX_TEXT_LAG_TICKS)
        self.assertBetween(u["start_ms"], *u["window_ms"])
        self.assertEqual(u["window_ticks"], [w // tick for w in u["window_ms"]])
        self.assertGreater(st.rms(ep.model_audio, u["start_ms"], u["end_ms"]), 0.01)
        self.assertEqual(u["normalized"], planning.normalize(u["text"]))
      self.assertEqual(outs[0], [text.SILENCE])

      # User turns: speech where they say, the response starts inside the window.
      for turn in truth["user_turns"]:
        for start, stop in turn["segments"]:
          self.assertGreater(st.rms(ep.mic, start, stop), 0.01)
        last_word = max(w.end_ms for w in ep.words
                        if w.speaker == "user" and turn["start_ms"] <= w.start_ms < turn["end_ms"])
        self.assertAlmostEqual(last_word, turn["end_ms"], delta=1)
        if turn["response"] is not None:
          response = utterances[turn["response"]]
          self.assertBetween(response["start_ms"], *turn["response_window_ms"])
          if response["role"] == "answer":
            self.assertBetween(response["start_ms"] - turn["end_ms"], *planning.RESPONSE_GAP_MS)

      # Stay-silent spans: no model audio, no audio-out, and an explicit <silence>.
      audio_out = st.speaks(ep)
      for s in truth["silent_spans"]:
        self.assertEqual(st.rms(ep.model_audio, s["start_ms"], s["end_ms"]), 0.0)
        # Ticks whose output is heard within the span (tick t is heard during tick t + 1).
        inside = [t for t in range(N_TICKS)
                  if s["start_ms"] <= (t + 1) * tick and (t + 2) * tick <= s["end_ms"]]
        self.assertFalse(any(audio_out[t] for t in inside))
        if len(inside) > MAX_TEXT_LAG_TICKS:
          self.assertIn([text.SILENCE], [outs[t] for t in inside])

      # Someone talks over the model: both are heard, and the model goes on afterwards.
      for s in truth["keep_talking_spans"]:
        u = utterances[s["utterance"]]
        self.assertBetween(s["start_ms"], u["start_ms"], u["end_ms"])
        self.assertGreater(u["end_ms"] - s["end_ms"], 300)
        self.assertGreater(st.rms(ep.mic, s["start_ms"], s["end_ms"]), 0.01)
        self.assertGreater(st.rms(ep.model_audio, s["end_ms"], u["end_ms"]), 0.01)

      # Interruptions: the cut answer ends by the yield deadline, the model is silent till the
      # interruption ends, and the cut words are the planned answer's first words.
      for i in truth["interruptions"]:
        cut = utterances[i["utterance"]]
        self.assertEqual(cut["role"], "cut_answer")
        self.assertTrue(cut["full_text"].startswith(cut["text"]))
        self.assertLess(len(cut["text"]), len(cut["full_text"]))
        self.assertEqual(i["yield_deadline_tick"], i["start_ms"] // tick + 1 + i["yield_ticks"])
        self.assertEqual(i["yield_deadline_ms"], i["yield_deadline_tick"] * tick)
        self.assertBetween(i["start_ms"], cut["start_ms"], cut["end_ms"])
        self.assertLessEqual(cut["end_ms"], i["yield_deadline_ms"])
        self.assertEqual(st.rms(ep.model_audio, i["yield_deadline_ms"], i["end_ms"]), 0.0)
        self.assertFalse(audio_out[i["yield_deadline_tick"] - 1])
        if i["response"] is not None:
          self.assertGreater(utterances[i["response"]]["start_ms"], i["end_ms"])

  @parameterized.parameters(*turntaking.KINDS)
  def test_pauses_sit_inside_the_turn(self, kind):
    for seed in range(4):
      truth = make(seed, kinds=(kind,)).truth
      for s in truth["silent_spans"]:
        if s["reason"] == "pause":
          turn = next(t for t in truth["user_turns"]
                      if t["start_ms"] < s["start_ms"] and s["end_ms"] < t["end_ms"])
          self.assertGreaterEqual(s["end_ms"] - s["start_ms"], turntaking.PAUSE_MS[0])
          self.assertGreater(len(turn["segments"]), 1)
      if kind == "pause":
        self.assertNotEmpty(truth["silent_spans"])
      if kind == "backchannel":
        self.assertNotEmpty(truth["keep_talking_spans"])
      if kind == "interruption":
        self.assertNotEmpty(truth["interruptions"])

  def test_variety(self):
    scripts = [make(seed) for seed in range(50)]
    kinds = {s.truth["kind"] for s in scripts}
    self.assertEqual(kinds, set(turntaking.KINDS))
    first_turns = {s.truth["user_turns"][0]["text"] for s in scripts}
    self.assertGreater(len(first_turns), 25)
    latencies = {u["start_ms"] - t["end_ms"] for s in scripts for t in s.truth["user_turns"]
                 if t["response"] is not None
                 for u in [s.truth["model_utterances"][t["response"]]]}
    self.assertGreater(len(latencies), 40)
    self.assertGreater(len({l.voice for s in scripts for l in s.lines if l.speaker == "user"}),
                       40)
    self.assertGreater(len({len(s.truth["user_turns"]) for s in scripts}), 1)
    starts = [l.start_ms for s in scripts for l in s.lines]
    self.assertGreater(len(set(starts)), 0.9 * len(starts))
    reasons = {x["reason"] for s in scripts
               for x in s.truth["silent_spans"] + s.truth["keep_talking_spans"]}
    self.assertEqual(reasons, {"pause", "interrupted", "side_talk", "background", "backchannel"})

  @parameterized.parameters(*turntaking.KINDS)
  def test_minimum_length_fits_every_kind(self, kind):
    for seed in range(6):
      script = make(seed, kinds=(kind,), n_ticks=MIN_TICKS)
      self.assertEqual(script.n_ticks, MIN_TICKS)
      self.assertEqual(script.truth["kind"], kind)

  def test_too_short_episode_is_a_clear_error(self):
    with self.assertRaisesRegex(ValueError, f"at least {MIN_TICKS} ticks"):
      turntaking.make_script(np.random.default_rng(0), "train", MIN_TICKS - 1, TICK_MS)
    with self.assertRaisesRegex(ValueError, f"at least {2 * MIN_TICKS} ticks of 100 ms"):
      turntaking.make_script(np.random.default_rng(0), "train", 2 * MIN_TICKS - 1, 100)

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "unknown split"):
      turntaking.make_script(np.random.default_rng(0), "test", N_TICKS, TICK_MS)
    with self.assertRaisesRegex(ValueError, "non-empty subset"):
      turntaking.make_script(np.random.default_rng(0), "train", N_TICKS, TICK_MS, ("chat",))

  def test_family(self):
    st.assert_family(self, turntaking, "turntaking", needs_video=False)
    script = turntaking.FAMILY.make_script(np.random.default_rng(3), "heldout", N_TICKS, TICK_MS)
    self.assertEqual(script.family, "turntaking")


if __name__ == "__main__":
  absltest.main()
