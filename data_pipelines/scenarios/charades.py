"""Charades-like temporal localization: the model says "start" and "stop" around a described event.

The video (`scenes.EventScene`) shows up to three objects, one per lane; the
described one does one thing (moves across the screen, spins, or lights up)
from a known start to a known end, and up to two distractors do similar
things strictly before or after it. Early in the episode, before anything
happens, the user describes the event and asks to be told when it starts and
when it stops ("Say start when the blue square starts spinning, and stop when
it stops spinning."). The target model says the start word ("Start.") as the
event begins and the stop word ("Stop.") as it ends, ignores the distractors,
and is otherwise silent.

Timeline (times in ms from the episode start; speech times are when it is
*heard*; tick t's camera frame is captured at the end of tick t, see
`data_pipelines.scenes`):

- The request starts 200-1000 ms in. Half the episodes have a short
  acknowledgement ("Okay, watching.") heard 300-600 ms after the request's
  last word (window: 200-800 ms after it); target speech, not required by
  the metrics.
- The scene's clock is shifted to start 300-1200 ms after the request (and
  after the acknowledgement); the first action starts at least 0.4 s later.
  The scene is sampled for the time left before the tail (1 s), so every
  action ends at least 1.6 s before the episode does. The scene draws 0-2
  distractors; below 6.4 s of scene at most one is kept.
- Event start tick s and end tick e are `EventScene.ticks` (`scenes.tick_of`:
  the first frame captured at or after the instant). The model is heard
  reacting from the tick after its *evidence* tick: s for the start (frame s
  is the first to show the object appearing, turning or lit, perhaps only
  slightly) and for the end e for a
  crossing (the object is gone) or a light (it is dark), but e + 1 for a
  spin: a still object only proves it has stopped on the second still frame.
  Target heard start: (evidence + 1) * tick_ms. Window for the heard start:
  [s + 1, evidence + 3] for the start word and [e + 1, evidence + 3] for
  the stop word (from the earliest causal tick to two ticks late).

Ground truth (`EpisodeScript.truth`), JSON-able; a *span* is {"start_ms",
"end_ms", "start_tick", "end_tick"} with end_tick exclusive, ticks by heard
time (tick t is [t * tick_ms, (t + 1) * tick_ms)):

  family: "charades"; tick_ms, n_ticks: ints.
  request: span + {"text"}: the user's request.
  words: {"start", "stop"}: the words the model is asked to say.
  event: {"description" ("the blue square spins"), "action", "shape",
    "colour", "start_ms", "end_ms", "start_tick" (s), "end_tick" (e)}: the
    ground-truth moment for temporal IoU, mIoU and R@{0.3, 0.5, 0.7}. A
    prediction is [heard start of the model's start word, heard start of its
    stop word]; the target's is shifted by one to two ticks of reaction.
  distractors: the other objects' actions, each {"description", "action",
    "shape", "colour", "start_ms", "end_ms", "start_tick", "end_tick"}: none
    overlaps the event, and none must trigger a word.
  expected: [start word, stop word]: {"cue": "start" | "stop", "text",
    "normalized", "accept", "start_ms", "end_ms" (target speech), "tick"
    (heard start tick), "window_ticks": [lo, hi] inclusive bounds on the
    heard start tick, "window_ms": [lo * tick_ms, (hi + 1) * tick_ms),
    "evidence_tick", "evidence_ms" (the event's start or end)}.
  ack: an utterance as above plus {"required": False}, or None.
  silent_spans: spans where the model must be silent: every tick outside
    the allowances [window lo, window hi + ceil(clip / tick_ms) + 1) of the
    ack and the two words (so through every distractor action).
  lines: spans + {"speaker", "text", "voice"} of the user's lines.
  marks: the request span, the event span and each distractor's span, for
    `episode_view`.

Splits: request phrasings (templates, and the clauses saying how the event
starts and ends) and user voices are disjoint between "train" and "heldout";
the start/stop word pairs and the model's phrasings are shared. Every draw fits
in `min_ticks(tick_ms)` ticks (MIN_EPISODE_MS: 73 ticks of 200 ms; the
longest request, at the slowest user voice and rate, lasts 6.8 s); shorter
episodes raise ValueError.
"""

import dataclasses
from typing import Any

import numpy as np

from data_pipelines import episode
from data_pipelines import scenes
from data_pipelines.scenarios import common
from data_pipelines.scenarios import planning

NAME = "charades"
MIN_EPISODE_MS = 14_600  # 73 ticks of 200 ms.
TAIL_MS = 1000  # With the scene's own >= 0.6 s after the last action: the stop word fits.
_MIN_SCENE_S = 3.6  # Room for a 2.6 s event and its rests.
# The least scene time in which EventScene.sample fits every draw with 1 or 2
# distractors: its actions, shortened alike, then all last >= 0.6 s.
_DISTRACTOR_SCENE_S = (4.3, 6.4)

# (the event starts, it ends), third person: "when the red circle {starts}".
_CLAUSES = {
    "cross": {"train": (("starts to cross", "is gone"),
                        ("appears", "disappears"),
                        ("comes into view", "leaves")),
              "heldout": (("enters the screen", "exits"),
                          ("shows up", "has left"))},
    "spin": {"train": (("starts spinning", "stops spinning"),
                       ("begins to turn", "stops turning")),
             "heldout": (("starts rotating", "comes to rest"),
                         ("begins to spin", "is still again"))},
    "light": {"train": (("lights up", "goes dark"),
                        ("turns on", "turns off")),
              "heldout": (("starts glowing", "stops glowing"),
                          ("switches on", "switches off"))},
}
# {subject}: "the blue square"; {starts} / {ends}: clauses; {start} / {stop}: cue words.
_REQUESTS = {
    "train": (
        "Say {start} when {subject} {starts}, and {stop} when it {ends}.",
        "Tell me when {subject} {starts} and when it {ends}.",
        "Watch {subject}: {start} when it {starts}, {stop} when it {ends}.",
        "Let me know when {subject} {starts}, and again when it {ends}.",
        "When {subject} {starts}, say {start}; when it {ends}, {stop}.",
        "Please say {start} as {subject} {starts} and {stop} once it {ends}.",
    ),
    "heldout": (
        "Call out {start} as {subject} {starts}, and {stop} once it {ends}.",
        "I need to know when {subject} {starts} and when it {ends}.",
        "Give me a {start} when {subject} {starts} and a {stop} when it {ends}.",
        "Eyes on {subject}: {start} when it {starts}, {stop} when it {ends}.",
    ),
}
# Templates that name no words get the first pair.
_WORDS = (("start", "stop"), ("now", "done"), ("go", "stop"), ("begin", "end"))
_ACKS = ("Okay.", "Sure.", "Watching.", "Okay, watching.", "Will do.")


def min_ticks(tick_ms: int) -> int:
  """The fewest ticks in which every Charades draw fits."""
  return planning.ticks_for(MIN_EPISODE_MS, tick_ms)


def _retimed(look: scenes.EventScene, timing: scenes.EventScene, offset_s: float,
             duration_s: float) -> scenes.EventScene:
  """`look`'s objects with `timing`'s action times (actor by actor) shifted by `offset_s`."""
  def moved(actor: scenes.Actor, timed: scenes.Actor) -> scenes.Actor:
    return dataclasses.replace(actor, start_s=offset_s + timed.start_s,
                               end_s=offset_s + timed.end_s)
  return dataclasses.replace(
      look, subject=moved(look.subject, timing.subject), duration_s=duration_s,
      distractors=tuple(moved(a, t) for a, t in zip(look.distractors, timing.distractors)))


def _action(actor: scenes.Actor, tick_ms: int) -> dict[str, Any]:
  return dict(description=actor.description, action=actor.action, shape=actor.shape,
              colour=actor.colour, start_ms=1000 * actor.start_s, end_ms=1000 * actor.end_s,
              start_tick=scenes.tick_of(actor.start_s, tick_ms),
              end_tick=scenes.tick_of(actor.end_s, tick_ms))


def make_script(rng: np.random.Generator, split: str, n_ticks: int,
                tick_ms: int) -> episode.EpisodeScript:
  """One Charades episode (see the module docstring for what is guaranteed)."""
  common.check_split(split)
  planning.check_length(NAME, n_ticks, tick_ms, MIN_EPISODE_MS)
  # The look of the scene first (the request names it), its timing once the request is placed.
  look = scenes.EventScene.sample(rng)
  subject = look.subject
  starts, ends = common.phrasing(rng, split, _CLAUSES[subject.action])
  template = common.phrasing(rng, split, _REQUESTS)
  start_word, stop_word = common.choose(rng, _WORDS) if "{start}" in template else _WORDS[0]
  text = template.format(subject=f"the {subject.colour} {subject.shape}", starts=starts,
                         ends=ends, start=start_word, stop=stop_word)
  opening = planning.open_episode(rng, text, common.user_voice(rng, split), _ACKS, tick_ms)
  budget_s = planning.scene_budget_s(opening, n_ticks, tick_ms, TAIL_MS)
  if budget_s < _MIN_SCENE_S:
    raise planning.too_short_draw(NAME, _MIN_SCENE_S, budget_s, n_ticks, tick_ms)
  room = sum(budget_s >= least for least in _DISTRACTOR_SCENE_S)
  n_distractors = min(len(look.distractors), room)
  look = dataclasses.replace(look, distractors=look.distractors[:n_distractors])
  timing = scenes.EventScene.sample(rng, action=subject.action, n_distractors=n_distractors,
                                    duration_s=budget_s)
  scene = _retimed(look, timing, opening.scene_start_ms / 1000, n_ticks * tick_ms / 1000)
  start_tick, end_tick = scene.ticks(tick_ms)
  subject = scene.subject
  # A stop is visible at once for a crossing (gone) or a light (dark), but a spin has
  # only stopped once a second frame shows the same pose.
  stop_evidence = end_tick + 1 if subject.action == "spin" else end_tick
  said, windows, expected = [], [], []
  cues = (("start", start_word, start_tick, start_tick + 1, subject.start_s),
          ("stop", stop_word, stop_evidence, end_tick + 1, subject.end_s))
  for cue, word, evidence, earliest, at_s in cues:
    start_ms, window = planning.reaction(evidence, earliest, tick_ms)
    line = planning.say_clip("model", word.capitalize() + ".", common.ASSISTANT_VOICE, start_ms)
    said.append(line)
    windows.append(window)
    expected.append(planning.clip_utterance(line, window, (word,), tick_ms, cue=cue,
                                            evidence_tick=evidence, evidence_ms=1000 * at_s))
  model = opening.model_lines() + said
  planning.check_model_lines(model, n_ticks, tick_ms)
  allowances = [planning.allowance(x, w, tick_ms) for x, w in zip(said, windows)]
  if opening.ack:
    allowances.append(planning.allowance(opening.ack, opening.ack_window, tick_ms))

  request = opening.request
  event = _action(subject, tick_ms)
  distractors = [_action(d, tick_ms) for d in sorted(scene.distractors, key=lambda d: d.start_s)]
  truth = dict(
      family=NAME, tick_ms=tick_ms, n_ticks=n_ticks,
      **opening.truth(_ACKS, tick_ms),
      words=dict(start=start_word, stop=stop_word),
      event=event,
      distractors=distractors,
      expected=expected,
      silent_spans=planning.silent_spans(allowances, n_ticks, tick_ms,
                                          span_of=planning.span_exclusive),
      lines=[planning.clip_line(request, tick_ms)],
      marks=[planning.mark("request", request.start_ms, request.end_ms),
             planning.mark(f"event: {subject.description}", event["start_ms"], event["end_ms"])]
      + [planning.mark(f"distractor: {d['description']}", d["start_ms"], d["end_ms"])
         for d in distractors],
  )
  lines = tuple(x.line for x in sorted([request] + model, key=lambda x: x.start_ms))
  return episode.EpisodeScript(family=NAME, n_ticks=n_ticks, lines=lines, scene=scene,
                               truth=truth)


FAMILY = common.Family(name=NAME, make_script=make_script, needs_video=True)
