"""Delegation episodes: questions the interaction model hands to the background model.

The user asks something the model should not answer from its own weights:
arithmetic ("What's 17 times 23?") or a look-up in the local knowledge table
(`knowledge`: capitals, mountain heights, atomic numbers, landmark years,
currencies). An episode holds one or two such delegations back to back (as
many as fit, up to a drawn count). The target behaviour of each:

1. Just after the question ends the model emits `<delegate>` (a control token
   in the tick after the one holding the question's last word; metrics accept
   that tick's predecessor up to two ticks later).
2. It keeps the conversation going with a short filler ("Let me check that."),
   heard 200–600 ms after the question ends, and never before the tick after
   the delegate tick (so `<delegate>` precedes the filler in the text-out
   channel).
3. The background result arrives 1–4 s after the delegate tick (uniform,
   whole ticks) in the bg-in slots, as text wrapped in <bg_start> ... <bg_end>:
   arithmetic as "<a><op><b>=<result>" with op one of * + - / ("17*23=391",
   "144/12=12"); look-ups as `knowledge.Relation.result`, "<attribute> of
   <entity>: <value>[ <unit>]" ("capital of Peru: Lima", "height of Mount
   Fuji: 3776 m").
4. Meanwhile the user sometimes keeps chatting ("No rush, I'm just filling in
   a form."), starting 200–900 ms after the filler and before the result is
   ready.
5. The model says the answer at a natural pause: not before it can have read
   the whole result (its last bg-in token, assuming the tiny layout's 4 bg-in
   slots per tick; the next tick's audio at the earliest) plus 0–400 ms, not
   before 300–700 ms after its filler ends, and not before 200–600 ms after
   the user's chat ends. Metrics accept a start from the latest of (the tick
   after the arrival tick, the filler's end, the chat's end) up to 2 s after
   the target.

Numbers are written as digits in the model's text (espeak reads them out), so
the answer value appears verbatim in the text-out channel. User phrasings
(questions, chat, lead-ins) are disjoint between the splits; knowledge-table
entities and the model's own phrasings are shared. Episodes need
`n_ticks * tick_ms >= MIN_MS` (75 ticks of 200 ms), else ValueError; the
layout needs bg-in slots. Timing conventions and spans are those of
`turntaking` (times are heard times in ms; a model utterance heard from tick h
is emitted in tick h - 1).

Ground truth (`truth`, JSON-able):

  family: "delegation"; tick_ms; n_ticks.
  delegations: list of {
      kind: "arithmetic" | "lookup",
      relation: "times" | "plus" | "minus" | "divided_by" for arithmetic,
        a `knowledge.Relation.name` for look-ups,
      question: span + {text, normalized},
      answer_value: the correct value as a string ("391", "Lima"),
      answer_value_normalized: `planning.normalize(answer_value)`: content
        scoring checks that it occurs, as whole words, in the normalized text
        the model says after the background result arrived,
      delegate: {tick, window_ticks: [earliest, latest]},
      background: {tick, ms (= tick * tick_ms), text, latency_ms (after the
        delegate tick's start), ready_tick (the first tick in which speech
        that depends on the whole result can be heard: at 4 bg-in tokens per
        tick its last token is read in tick ready_tick - 1)},
      chat: span + {text} of the user's chat meanwhile, or None,
      filler: model utterance (as in `turntaking`: span, text, normalized,
        role "filler", window_ms / window_ticks),
      answer: model utterance (role "answer"); its window starts after the
        background result's arrival}.
"""

from collections.abc import Sequence
import math

import numpy as np

from data_pipelines import episode
from data_pipelines import speech_cache
from data_pipelines import text as text_lib
from data_pipelines.scenarios import common
from data_pipelines.scenarios import knowledge
from data_pipelines.scenarios import planning

KINDS = ("arithmetic", "lookup")

LATENCY_MS = (1000, 4000)
FILLER_GAP_MS = (200, 600)
CHAT_AFTER_FILLER_MS = (200, 900)
CHAT_PROBABILITY = 0.4
READ_GAP_MS = (0, 400)
AFTER_FILLER_MS = (300, 700)
ANSWER_LATE_MS = 2000
DELEGATE_WINDOW_TICKS = (-1, 2)
BG_TOKENS_PER_TICK = 4
MIN_MS = 15000
MAX_DELEGATIONS = 2

# op name → (symbol in results, spoken word, questions per split).
ARITHMETIC = {
    "times": ("*", "times", {
        "train": ("What's {a} times {b}?", "Can you work out {a} times {b}?",
                  "How much is {a} multiplied by {b}?"),
        "heldout": ("What do I get if I multiply {a} by {b}?",
                    "Could you figure out {a} times {b} for me?"),
    }),
    "plus": ("+", "plus", {
        "train": ("What's {a} plus {b}?", "Can you add {a} and {b}?",
                  "How much is {a} plus {b}?"),
        "heldout": ("What do {a} and {b} add up to?", "Could you tell me the sum of {a} and {b}?"),
    }),
    "minus": ("-", "minus", {
        "train": ("What's {a} minus {b}?", "Can you take {b} away from {a}?"),
        "heldout": ("What is {a} take away {b}?", "If I subtract {b} from {a}, what's left?"),
    }),
    "divided_by": ("/", "divided by", {
        "train": ("What's {a} divided by {b}?", "How many times does {b} go into {a}?"),
        "heldout": ("Could you divide {a} by {b} for me?",
                    "What do I get when I split {a} into {b} equal parts?"),
    }),
}
ARITHMETIC_ANSWERS = ("{a} {op} {b} is {r}.", "That's {r}.", "Okay, {a} {op} {b} comes to {r}.",
                      "Got it, it's {r}.")

# relation name → questions per split ({e}: the entity as said mid-sentence).
LOOKUP_QUESTIONS = {
    "capital": {
        "train": ("What's the capital of {e}?", "Which city is the capital of {e}?",
                  "Do you know the capital of {e}?"),
        "heldout": ("What city is {e}'s capital?", "Could you look up the capital city of {e}?"),
    },
    "height": {
        "train": ("How tall is {e}?", "What's the height of {e}?", "How high is {e}?"),
        "heldout": ("Do you know how many meters high {e} is?",
                    "Could you find out the height of {e}?"),
    },
    "atomic_number": {
        "train": ("What's the atomic number of {e}?", "Which atomic number does {e} have?"),
        "heldout": ("Could you look up {e}'s atomic number?",
                    "What number is {e} on the periodic table?"),
    },
    "year_completed": {
        "train": ("When was {e} finished?", "What year was {e} completed?"),
        "heldout": ("In which year did they complete {e}?", "Do you know what year {e} was built?"),
    },
    "currency": {
        "train": ("What currency do they use in {e}?", "What's the currency of {e}?"),
        "heldout": ("What money would I need in {e}?", "Which currency does {e} use?"),
    },
}
# relation name → the model's answers ({e} entity, {E} entity capitalized, {v} value).
LOOKUP_ANSWERS = {
    "capital": ("The capital of {e} is {v}.", "It's {v}.", "Found it: the capital of {e} is {v}."),
    "height": ("{E} is {v} meters high.", "It's {v} meters.",
               "Found it: {e} stands {v} meters tall."),
    "atomic_number": ("The atomic number of {e} is {v}.", "It's {v}.",
                      "{E} has atomic number {v}."),
    "year_completed": ("{E} was completed in {v}.", "It was finished in {v}.", "Found it: {v}."),
    "currency": ("They use the {v} in {e}.", "It's the {v}.", "The currency of {e} is the {v}."),
}
FILLERS = {
    "arithmetic": ("Let me work that out.", "One moment.", "Give me a second.",
                   "Let me calculate that."),
    "lookup": ("Let me check that.", "One moment.", "Let me look that up.", "Give me a second.",
               "Hmm, let me find out."),
}
# Optionally said before the question.
LEADS = {"train": ("Hey, quick question.", "Okay, so."),
         "heldout": ("Right, one thing.", "Alright, here's one.")}
CHAT = {
    "train": ("No rush, I'm just filling in a form.", "Sure, take your time.",
              "Thanks. It's for a quiz tonight.", "Okay. I'm making a cup of tea meanwhile.",
              "I should really know this one."),
    "heldout": ("No hurry, I'm only curious.", "Alright, I'll wait.",
                "It's for my kid's homework, actually.", "Funny, I used to know that."),
}


def _arithmetic(rng: np.random.Generator, split: str) -> tuple[str, str, str, str, str]:
  """(relation, question, background result, answer value, model answer)."""
  op = common.choose(rng, tuple(ARITHMETIC))
  symbol, word, questions = ARITHMETIC[op]
  if op == "times":
    a, b = int(rng.integers(12, 50)), int(rng.integers(11, 30))
    r = a * b
  elif op == "plus":
    a, b = int(rng.integers(100, 1000)), int(rng.integers(100, 1000))
    r = a + b
  elif op == "minus":
    a = int(rng.integers(200, 1000))
    b = int(rng.integers(10, a))
    r = a - b
  else:
    b, r = int(rng.integers(3, 20)), int(rng.integers(6, 50))
    a = b * r
  question = common.phrasing(rng, split, questions).format(a=a, b=b)
  answer = common.choose(rng, ARITHMETIC_ANSWERS).format(a=a, op=word, b=b, r=r)
  return op, question, f"{a}{symbol}{b}={r}", str(r), answer


def _lookup(rng: np.random.Generator, split: str) -> tuple[str, str, str, str, str]:
  """(relation, question, background result, answer value, model answer)."""
  relation = common.choose(rng, knowledge.RELATIONS)
  entity = common.choose(rng, tuple(relation.facts))
  value = relation.facts[entity]
  question = common.phrasing(rng, split, LOOKUP_QUESTIONS[relation.name]).format(e=entity)
  answer = common.choose(rng, LOOKUP_ANSWERS[relation.name]).format(
      e=entity, E=entity[0].upper() + entity[1:], v=value)
  return relation.name, question, relation.result(entity), value, answer


class _Plan(planning.Timeline):
  """A timeline plus the delegations planned so far."""

  def __init__(self, tick_ms: int, user: speech_cache.Voice, kinds: Sequence[str]):
    super().__init__(tick_ms)
    self.user = user
    self.kinds = tuple(kinds)
    self.delegations: list[dict] = []
    self.controls: list[tuple[int, str]] = []
    self.background: list[tuple[int, str]] = []


def _delegation(rng: np.random.Generator, split: str, plan: _Plan, start_ms: int) -> None:
  tick = plan.tick_ms
  kind = common.choose(rng, plan.kinds)
  relation, question, result, value, answer = (_arithmetic if kind == "arithmetic"
                                               else _lookup)(rng, split)
  if rng.random() < 0.3:
    question = common.phrasing(rng, split, LEADS) + " " + question
  asked = plan.say("user", question, start_ms, plan.user)
  end = asked.speech_end_ms
  delegate = common.tick_of(end, tick) + 1
  filler_at = max(end + planning.uniform_ms(rng, FILLER_GAP_MS), (delegate + 2) * tick)
  filler = plan.say("model", common.choose(rng, FILLERS[kind]), filler_at,
                    common.ASSISTANT_VOICE)
  arrival = delegate + max(1, round(planning.uniform_ms(rng, LATENCY_MS) / tick))
  n_tokens = len(text_lib.encode(result)) + 2  # with <bg_start> and <bg_end>.
  ready_tick = arrival + math.ceil(n_tokens / BG_TOKENS_PER_TICK)
  target = max(ready_tick * tick + planning.uniform_ms(rng, READ_GAP_MS),
               filler.end_ms + planning.uniform_ms(rng, AFTER_FILLER_MS))
  earliest = max((arrival + 1) * tick, filler.end_ms)
  chat = None
  chat_at = filler.end_ms + planning.uniform_ms(rng, CHAT_AFTER_FILLER_MS)
  if rng.random() < CHAT_PROBABILITY and chat_at + 300 < ready_tick * tick:
    said = plan.say("user", common.phrasing(rng, split, CHAT), chat_at, plan.user)
    chat = {**plan.span(chat_at, said.speech_end_ms), "text": said.line.text}
    target = max(target,
                 said.speech_end_ms + planning.uniform_ms(rng, planning.RESPONSE_GAP_MS))
    earliest = max(earliest, said.speech_end_ms)
  spoken = plan.say("model", answer, target, common.ASSISTANT_VOICE)
  plan.controls.append((delegate, "delegate"))
  plan.background.append((arrival, result))
  low, high = DELEGATE_WINDOW_TICKS
  plan.delegations.append({
      "kind": kind, "relation": relation,
      "question": {**plan.span(start_ms, end), "text": question,
                   "normalized": planning.normalize(question)},
      "answer_value": value, "answer_value_normalized": planning.normalize(value),
      "delegate": {"tick": delegate, "window_ticks": [delegate + low, delegate + high]},
      "background": {"tick": arrival, "ms": arrival * tick, "text": result,
                     "latency_ms": (arrival - delegate) * tick, "ready_tick": ready_tick},
      "chat": chat,
      "filler": plan.utterance(filler, "filler", (end + planning.RESPONSE_WINDOW_MS[0],
                                                   end + planning.RESPONSE_WINDOW_MS[1])),
      "answer": plan.utterance(spoken, "answer", (earliest, target + ANSWER_LATE_MS)),
  })


def make_script(rng: np.random.Generator, split: str, n_ticks: int, tick_ms: int,
                kinds: Sequence[str] = KINDS) -> episode.EpisodeScript:
  """One delegation episode; each delegation's kind is drawn from `kinds`."""
  common.check_split(split)
  if not kinds or set(kinds) - set(KINDS):
    raise ValueError(f"kinds must be a non-empty subset of {KINDS}, got {tuple(kinds)}")
  user = common.user_voice(rng, split)
  plan = planning.fill_episode(
      rng, lambda: _Plan(tick_ms, user, kinds), lambda r, p, t: _delegation(r, split, p, t),
      n_ticks, tick_ms, MIN_MS, MAX_DELEGATIONS, "delegation")
  truth = {"family": FAMILY.name, "tick_ms": tick_ms, "n_ticks": n_ticks,
           "delegations": plan.delegations}
  return episode.EpisodeScript(
      family=FAMILY.name, n_ticks=n_ticks,
      lines=tuple(sorted(plan.lines, key=lambda l: l.start_ms)),
      background=tuple(plan.background), controls=tuple(plan.controls), truth=truth)


FAMILY = common.Family(name="delegation", make_script=make_script, needs_video=False)
