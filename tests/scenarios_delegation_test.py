"""Delegation scenarios: determinism, disjoint splits, ground truth on rendered episodes, variety.

Speech comes from the default speech cache ($MICROTURN_CACHE/speech, else
~/.cache/microturn/speech), the one training uses, so reruns are fast.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import json
import math
import re

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from data_pipelines import text
from data_pipelines.scenarios import common
from data_pipelines.scenarios import delegation
from data_pipelines.scenarios import knowledge
from data_pipelines.scenarios import planning
from data_pipelines.stream import Slot
from tests import scenarios_testing as st

TICK_MS = st.TICK_MS
N_TICKS = 120
MIN_TICKS = math.ceil(delegation.MIN_MS / TICK_MS)


make = st.script_maker(delegation.make_script, N_TICKS)


def first_tick_of(rows: list[list[int]], needle: list[int], after: int = 0) -> int:
  """The tick holding the first token of `needle` in the concatenated rows."""
  flat = [(tick, t) for tick, row in enumerate(rows) for t in row]
  tokens = [t for _, t in flat]
  for i in range(len(tokens) - len(needle) + 1):
    if flat[i][0] >= after and tokens[i:i + len(needle)] == needle:
      return flat[i][0]
  raise AssertionError(f"{text.decode(needle)!r} not found after tick {after}")


class DelegationTest(parameterized.TestCase):

  @parameterized.parameters(*delegation.KINDS)
  def test_same_seed_same_script_and_episode(self, kind):
    st.assert_deterministic(
        self, lambda: delegation.make_script(np.random.default_rng(5), "train", N_TICKS, TICK_MS,
                                             (kind,)),
        st.TINY_AUDIO)

  def test_truth_is_json(self):
    for seed in range(10):
      truth = make(seed).truth
      self.assertEqual(json.loads(json.dumps(truth)), truth)
      self.assertEqual(truth["family"], "delegation")
      self.assertNotEmpty(truth["delegations"])

  def test_phrasing_tables_are_disjoint_between_splits(self):
    tables = {f"arithmetic {op}": questions
              for op, (_, _, questions) in delegation.ARITHMETIC.items()}
    tables.update({f"lookup {name}": q for name, q in delegation.LOOKUP_QUESTIONS.items()})
    tables.update(leads=delegation.LEADS, chat=delegation.CHAT)
    for name, table in tables.items():
      with self.subTest(name):
        self.assertEmpty(set(table["train"]) & set(table["heldout"]))
    self.assertEqual(set(delegation.LOOKUP_QUESTIONS), {r.name for r in knowledge.RELATIONS})
    self.assertEqual(set(delegation.LOOKUP_ANSWERS), {r.name for r in knowledge.RELATIONS})

  def test_knowledge_table(self):
    facts = sum(len(r.facts) for r in knowledge.RELATIONS)
    self.assertBetween(facts, 30, 60)
    self.assertEqual(knowledge.CAPITAL.result("Peru"), "capital of Peru: Lima")
    self.assertEqual(knowledge.HEIGHT.result("Mount Fuji"), "height of Mount Fuji: 3776 m")

  def test_sampled_splits_share_no_voice_or_user_phrasing(self):
    said = {split: set() for split in common.SPLITS}
    voices = {split: set() for split in common.SPLITS}
    for split in common.SPLITS:
      for seed in range(30):
        script = make(seed, split)
        for line in script.lines:
          if line.speaker == "model":
            self.assertEqual(line.voice, common.ASSISTANT_VOICE)
          else:
            self.assertEqual(line.speaker, "user")
            self.assertIn(line.voice.name, common.USER_VOICES[split])
            voices[split].add(line.voice.name)
            said[split].add(line.text)
    self.assertEmpty(said["train"] & said["heldout"])
    self.assertEmpty(voices["train"] & voices["heldout"])

  @parameterized.product(kind=delegation.KINDS, layout_name=list(st.AUDIO_LAYOUTS))
  def test_ground_truth_holds_on_the_rendered_episode(self, kind, layout_name):
    layout = st.AUDIO_LAYOUTS[layout_name]
    for seed in (1, 2, 3):
      script = make(seed, kinds=(kind,))
      ep = st.render(script, layout)
      outs, bg = st.slot_tokens(ep, Slot.TEXT_OUT), st.slot_tokens(ep, Slot.BG_IN)
      self.assertEqual(outs[0], [text.SILENCE])
      delegations = ep.truth["delegations"]
      expected_text = "".join(d[u]["text"] for d in delegations for u in ("filler", "answer"))
      self.assertEqual(text.decode([t for row in outs for t in row], skip_special=True),
                       expected_text)
      self.assertEqual(sum(row.count(text.DELEGATE) for row in outs), len(delegations))
      self.assertLen(script.controls, len(delegations))
      self.assertLen(script.background, len(delegations))
      for d in delegations:
        self.assertEqual(d["kind"], kind)
        question, filler, answer = d["question"], d["filler"], d["answer"]
        delegate, background = d["delegate"]["tick"], d["background"]

        # The question is heard; <delegate> follows it, before the filler's first word.
        self.assertGreater(st.rms(ep.mic, question["start_ms"], question["end_ms"]), 0.01)
        self.assertEqual(delegate, question["end_ms"] // TICK_MS + 1)
        self.assertBetween(delegate, *d["delegate"]["window_ticks"])
        self.assertIn(text.DELEGATE, outs[delegate])
        filler_bytes = list(text.encode(filler["text"]))
        self.assertEqual(first_tick_of(outs, filler_bytes, after=delegate),
                         filler["start_tick"] - 1)
        self.assertGreater(filler["start_tick"] - 1, delegate)
        self.assertBetween(filler["start_ms"], *filler["window_ms"])

        # The result arrives in the bg-in slots from its tick, read by ready_tick at 4 per tick.
        result = [text.BG_START, *text.encode(background["text"]), text.BG_END]
        self.assertEqual(first_tick_of(bg, result, after=delegate), background["tick"])
        self.assertEqual(background["ms"], background["tick"] * TICK_MS)
        self.assertEqual(background["latency_ms"], (background["tick"] - delegate) * TICK_MS)
        self.assertBetween(background["latency_ms"], delegation.LATENCY_MS[0] - TICK_MS // 2,
                           delegation.LATENCY_MS[1] + TICK_MS // 2)
        read = background["tick"] + math.ceil(len(result) / 4)
        self.assertEqual(background["ready_tick"], read)
        read_out, tick = 0, background["tick"]
        while read_out < len(result):
          read_out, tick = read_out + len(bg[tick]), tick + 1
        self.assertLessEqual(tick, read)
        if layout_name == "tiny":
          self.assertEqual(tick, read)

        # The answer comes after the result was read, after the filler and after any chat.
        self.assertBetween(answer["start_ms"], *answer["window_ms"])
        self.assertGreater(answer["window_ms"][0], background["ms"])
        self.assertGreaterEqual(answer["start_ms"], background["ready_tick"] * TICK_MS)
        self.assertGreater(answer["start_ms"], filler["end_ms"])
        self.assertEqual(first_tick_of(outs, list(text.encode(answer["text"])), after=delegate),
                         answer["start_tick"] - 1)
        self.assertGreater(st.rms(ep.model_audio, answer["start_ms"], answer["end_ms"]), 0.01)
        self.assertEqual(st.rms(ep.model_audio, filler["end_ms"], answer["start_ms"]), 0.0)
        if d["chat"] is not None:
          chat = d["chat"]
          self.assertGreater(st.rms(ep.mic, chat["start_ms"], chat["end_ms"]), 0.01)
          self.assertLess(chat["start_ms"], background["ready_tick"] * TICK_MS)
          self.assertGreater(answer["start_ms"], chat["end_ms"])
          self.assertGreaterEqual(answer["window_ms"][0], chat["end_ms"])

        # The answer says the right value.
        value = d["answer_value_normalized"]
        self.assertEqual(value, planning.normalize(d["answer_value"]))
        self.assertIn(" " + value + " ", " " + answer["normalized"] + " ")
        if kind == "arithmetic":
          a, op, b, r = re.fullmatch(r"(\d+)([*+/-])(\d+)=(\d+)", background["text"]).groups()
          a, b = int(a), int(b)
          self.assertEqual(int(r), {"*": a * b, "+": a + b, "-": a - b, "/": a // b}[op])
          self.assertEqual(r, d["answer_value"])
          self.assertIn(a, [int(n) for n in re.findall(r"\d+", question["text"])])
        else:
          relation = next(x for x in knowledge.RELATIONS if x.name == d["relation"])
          entity = next(e for e in relation.facts if relation.result(e) == background["text"])
          self.assertEqual(relation.facts[entity], d["answer_value"])
          self.assertIn(entity, question["text"])

  def test_variety(self):
    scripts = [make(seed) for seed in range(50)]
    items = [d for s in scripts for d in s.truth["delegations"]]
    self.assertGreater(len({d["question"]["text"] for d in items}), 0.9 * len(items))
    self.assertEqual({d["kind"] for d in items}, set(delegation.KINDS))
    self.assertGreaterEqual(len({d["relation"] for d in items}), 8)
    self.assertGreater(len({d["background"]["latency_ms"] for d in items}), 10)
    self.assertGreater(len({d["answer"]["text"] for d in items}), 0.8 * len(items))
    self.assertGreater(len({d["filler"]["text"] for d in items}), 4)
    chats = [d["chat"] is not None for d in items]
    self.assertTrue(any(chats) and not all(chats))
    self.assertEqual({len(s.truth["delegations"]) for s in scripts}, {1, 2})

  def test_minimum_length_fits(self):
    for seed in range(12):
      script = make(seed, n_ticks=MIN_TICKS)
      self.assertEqual(script.n_ticks, MIN_TICKS)
      if seed < 2:
        st.render(script, st.TINY_AUDIO)

  def test_too_short_episode_is_a_clear_error(self):
    with self.assertRaisesRegex(ValueError, f"at least {MIN_TICKS} ticks"):
      delegation.make_script(np.random.default_rng(0), "train", MIN_TICKS - 1, TICK_MS)

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "unknown split"):
      delegation.make_script(np.random.default_rng(0), "dev", N_TICKS, TICK_MS)
    with self.assertRaisesRegex(ValueError, "non-empty subset"):
      delegation.make_script(np.random.default_rng(0), "train", N_TICKS, TICK_MS, ())

  def test_family(self):
    st.assert_family(self, delegation, "delegation", needs_video=False)
    script = delegation.FAMILY.make_script(np.random.default_rng(3), "heldout", N_TICKS, TICK_MS)
    self.assertEqual(script.family, "delegation")


if __name__ == "__main__":
  absltest.main()
