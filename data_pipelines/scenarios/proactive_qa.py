"""ProactiveVideoQA: the user asks about something not yet visible; the model answers once it is.

The video (`scenes.RevealScene`) hides the answer under a grey box that
slides away, or has it fade in, at a known time, with up to two distractor
shapes wandering in the other half of the frame. Early in the episode, while
the answer is still hidden, the user asks about it: its colour ("What colour
is the square under the grey box?"), how many there are ("How many red
circles are going to appear?") or its shape ("What shape is the green thing
behind the grey box?"). The target model stays silent until the whole answer
is visible, then answers promptly ("It's red.", "Three.", "A triangle."),
then is silent again.

Timeline (times in ms from the episode start; speech times are when it is
*heard*; tick t's camera frame is captured at the end of tick t, see
`data_pipelines.scenes`):

- The question starts 200-1000 ms in. Half the episodes have a brief
  acknowledgement ("Let's see.", "Okay, watching.") heard 300-600 ms after
  the question's last word (window: 200-800 ms after it); it is target
  speech but not required by the metrics, and never contains an answer.
- The scene's clock is shifted to start 300-1200 ms after the question (and
  after the acknowledgement), so the reveal begins at least 1 s after that
  and the answer is fully visible (`reveal_ms`) at least 2 s before the
  episode ends: the whole reply span below lies inside the episode.
- The reveal tick r is the first tick whose frame shows the whole answer
  (`RevealScene.reveal_tick`). The target answer is heard from
  (r + 1) * tick_ms (the model sees frame r in tick r and speaks next tick);
  the window for its heard start is [r + 1, r + 3] ticks (0-2 ticks late).
  Nothing may be answered before the reveal starts (`no_answer_before`):
  until then no pixel of the answer shows.

Ground truth (`EpisodeScript.truth`), JSON-able; a *span* is {"start_ms",
"end_ms", "start_tick", "end_tick"} with end_tick exclusive, ticks by heard
time (tick t is [t * tick_ms, (t + 1) * tick_ms)):

  family: "proactive_qa"; tick_ms, n_ticks: ints.
  kind: "colour" | "count" | "shape"; mechanism: "cover" | "fade".
  question: span + {"text"}: the user's question.
  answer: {"text": the answer word ("red", "three", "triangle"),
    "normalized", "accept": normalized replies that are correct}. The judge
    is normalized exact match: a reply r is correct iff
    `planning.normalize_numbers(r)` is in accept (lower case, digits as
    number words, punctuation dropped). accept holds the answer word and every reply phrasing filled
    with it.
  reveal: {"start_ms" (the answer starts to show), "end_ms" (= reveal_ms,
    all of it shows), "tick" (r, the first frame showing all of it),
    "start_tick" (the frame tick of start_ms)}.
  no_answer_before: {"ms", "tick"}: an answer heard before this (the reveal's
    start) is a guess.
  reply_span: span [reveal_ms, reveal_ms + REPLY_SPAN_MS): the ground-truth
    reply span for PAUC@omega=0.5 (ProactiveVideoQA), 2 s.
  expected: [the answer utterance]: {"text", "normalized", "accept",
    "start_ms", "end_ms" (target speech), "tick" (heard start tick),
    "window_ticks": [lo, hi] inclusive bounds on the heard start tick,
    "window_ms": [lo * tick_ms, (hi + 1) * tick_ms), "evidence_tick" (r),
    "evidence_ms" (reveal_ms)}.
  ack: an utterance as above plus {"required": False}, or None.
  silent_spans: spans where the model must be silent: every tick outside
    the allowances [window lo, window hi + ceil(clip / tick_ms) + 1) of the
    ack and the answer, so in particular from the question to the reveal.
  distractors: [{"shape", "colour"}] of the wandering distractor shapes.
  lines: spans + {"speaker", "text", "voice"} of the user's lines.
  marks: the question span, the reveal span (start to reveal_ms) and the
    reply span, for `episode_view`.

Splits: question phrasings (and the words for where the answer is) and user
voices are disjoint between "train" and "heldout"; the model's replies are
shared. Every draw fits in `min_ticks(tick_ms)` ticks (MIN_EPISODE_MS: 62
ticks of 200 ms; the longest question, at the slowest user voice and rate,
lasts 5.0 s); shorter episodes raise ValueError.
"""

import dataclasses
from typing import Any

import numpy as np

from data_pipelines import episode
from data_pipelines import scenes
from data_pipelines.scenarios import common
from data_pipelines.scenarios import planning

NAME = "proactive_qa"
MIN_EPISODE_MS = 12_400  # 62 ticks of 200 ms.
REPLY_SPAN_MS = 2000
TAIL_MS = 500  # With the scene's own >= 1.5 s after the reveal: the reply span fits.
_MIN_SCENE_S = 3.5  # RevealScene's shortest.

# Where the answer is: {where} follows a noun ("the square {where}"),
# {are_where} ends a count question ("how many red circles {are_where}").
_WHERE = {
    "cover": {"train": ("under the grey box", "behind the grey box", "under the box"),
              "heldout": ("hidden by the grey cover", "beneath the cover")},
    "fade": {"train": ("that is about to appear", "that's going to show up"),
             "heldout": ("that will fade in", "that is coming up")},
}
_ARE_WHERE = {
    "cover": {"train": ("are under the grey box", "are behind the grey box"),
              "heldout": ("are hidden by the grey cover", "sit beneath the cover")},
    "fade": {"train": ("are going to appear", "will show up"),
             "heldout": ("are about to fade in", "will turn up")},
}
# {shape} / {shapes} / {colour} describe what is asked about.
_QUESTIONS = {
    "colour": {
        "train": ("What colour is the {shape} {where}?",
                  "Tell me the colour of the {shape} {where}.",
                  "Which colour is the {shape} {where}?",
                  "Can you tell me what colour the {shape} {where} is?",
                  "What's the colour of the {shape} {where}?"),
        "heldout": ("Once you can see it, say what colour the {shape} {where} is.",
                    "I wonder what colour the {shape} {where} is.",
                    "Let me know the colour of the {shape} {where}."),
    },
    "count": {
        "train": ("How many {colour} {shapes} {are_where}?",
                  "Tell me how many {colour} {shapes} {are_where}.",
                  "Can you count the {colour} {shapes} that {are_where}?",
                  "How many {colour} {shapes} {are_where}, do you think?"),
        "heldout": ("Let me know how many {colour} {shapes} {are_where}.",
                    "What's the number of {colour} {shapes} that {are_where}?",
                    "Say how many {colour} {shapes} {are_where}, when you can."),
    },
    "shape": {
        "train": ("What shape is the {colour} thing {where}?",
                  "Tell me the shape of the {colour} object {where}.",
                  "Which shape is the {colour} one {where}?",
                  "Can you see what shape the {colour} thing {where} is?"),
        "heldout": ("What kind of shape is the {colour} object {where}?",
                    "Say what shape the {colour} thing {where} is when it shows.",
                    "I'd like to know the shape of the {colour} object {where}."),
    },
}
# The model's answers; {a} is the answer word.
_REPLIES = {
    "colour": ("{A}.", "It's {a}.", "It is {a}.", "{A}, it's {a}."),
    "count": ("{A}.", "There are {a}.", "I count {a}.", "{A} of them."),
    "count_one": ("One.", "Just one.", "There's one.", "Only one."),
    "shape": ("A {a}.", "It's a {a}.", "{A}.", "That's a {a}."),
}
_ACKS = ("Let's see.", "Okay, watching.", "I'll keep an eye on it.", "Hmm, let's wait.",
         "Okay, let's see.")


def min_ticks(tick_ms: int) -> int:
  """The fewest ticks in which every ProactiveVideoQA draw fits."""
  return planning.ticks_for(MIN_EPISODE_MS, tick_ms)


def _question(rng: np.random.Generator, split: str, scene: scenes.RevealScene) -> str:
  template = common.phrasing(rng, split, _QUESTIONS[scene.kind])
  where = common.phrasing(rng, split, _WHERE[scene.mechanism])
  are_where = common.phrasing(rng, split, _ARE_WHERE[scene.mechanism])
  return template.format(shape=scene.shape, shapes=scene.shape + "s", colour=scene.colour,
                         where=where, are_where=are_where)


def _replies(scene: scenes.RevealScene) -> list[str]:
  """Every reply phrasing for the scene's answer."""
  a = scene.answer
  kind = "count_one" if scene.kind == "count" and a == "one" else scene.kind
  return [r.format(a=a, A=a.capitalize()) for r in _REPLIES[kind]]


def make_script(rng: np.random.Generator, split: str, n_ticks: int,
                tick_ms: int) -> episode.EpisodeScript:
  """One ProactiveVideoQA episode (see the module docstring for what is guaranteed)."""
  common.check_split(split)
  planning.check_length(NAME, n_ticks, tick_ms, MIN_EPISODE_MS)
  # The look of the scene first (the question names it), its timing once the question is placed.
  look = scenes.RevealScene.sample(rng)
  text = _question(rng, split, look)
  replies = _replies(look)
  reply_text = common.choose(rng, replies)
  opening = planning.open_episode(rng, text, common.user_voice(rng, split), _ACKS, tick_ms)
  budget_s = planning.scene_budget_s(opening, n_ticks, tick_ms, TAIL_MS)
  if budget_s < _MIN_SCENE_S:
    raise planning.too_short_draw(NAME, _MIN_SCENE_S, budget_s, n_ticks, tick_ms)
  timing = scenes.RevealScene.sample(rng, kind=look.kind, mechanism=look.mechanism,
                                     n_distractors=len(look.distractors), duration_s=budget_s)
  offset_s = opening.scene_start_ms / 1000
  scene = dataclasses.replace(look, reveal_start_s=offset_s + timing.reveal_start_s,
                              reveal_s=offset_s + timing.reveal_s,
                              duration_s=n_ticks * tick_ms / 1000)

  reveal_tick = scene.reveal_tick(tick_ms)
  reveal_ms = 1000 * scene.reveal_s
  start_ms, window = planning.reaction(reveal_tick, reveal_tick + 1, tick_ms)
  answer = planning.say_clip("model", reply_text, common.ASSISTANT_VOICE, start_ms)
  model = opening.model_lines() + [answer]
  planning.check_model_lines(model, n_ticks, tick_ms)
  allowances = [planning.allowance(answer, window, tick_ms)]
  if opening.ack:
    allowances.append(planning.allowance(opening.ack, opening.ack_window, tick_ms))

  question = opening.request
  accept = sorted({planning.normalize_numbers(r) for r in [scene.answer, *replies]})
  reveal_start_ms = 1000 * scene.reveal_start_s
  opened = opening.truth(_ACKS, tick_ms)
  reply_span = planning.span_exclusive(reveal_ms, reveal_ms + REPLY_SPAN_MS, tick_ms)
  truth: dict[str, Any] = dict(
      family=NAME, tick_ms=tick_ms, n_ticks=n_ticks, kind=scene.kind, mechanism=scene.mechanism,
      question=opened["request"], ack=opened["ack"],
      answer=dict(text=scene.answer, normalized=planning.normalize_numbers(scene.answer),
                  accept=accept),
      reveal=dict(start_ms=reveal_start_ms, end_ms=reveal_ms, tick=reveal_tick,
                  start_tick=scenes.tick_of(scene.reveal_start_s, tick_ms)),
      no_answer_before=dict(ms=reveal_start_ms,
                            tick=common.tick_of(reveal_start_ms, tick_ms)),
      reply_span=reply_span,
      expected=[planning.clip_utterance(answer, window, accept, tick_ms,
                                        evidence_tick=reveal_tick, evidence_ms=reveal_ms)],
      silent_spans=planning.silent_spans(allowances, n_ticks, tick_ms,
                                          span_of=planning.span_exclusive),
      distractors=[dict(shape=d.shape, colour=d.colour) for d in scene.distractors],
      lines=[planning.clip_line(question, tick_ms)],
      marks=[planning.mark("question", question.start_ms, question.end_ms),
             planning.mark("reveal", reveal_start_ms, reveal_ms),
             planning.mark(f"reply span: {scene.answer}", reveal_ms,
                           reveal_ms + REPLY_SPAN_MS)],
  )
  lines = tuple(s.line for s in sorted([question] + model, key=lambda s: s.start_ms))
  return episode.EpisodeScript(family=NAME, n_ticks=n_ticks, lines=lines, scene=scene,
                               truth=truth)


FAMILY = common.Family(name=NAME, make_script=make_script, needs_video=True)
