"""RepCount: the model watches a repeated motion and counts it out loud.

The video (`scenes.RepCountScene`) shows a shape repeating one motion (a jump
or dip, a sideways swing, a pulse, a twist) a known number of times, sometimes
beside a distractor shape that wanders without repeating. Early in the
episode, while the shape is still at rest, the user asks the model to count
out loud ("Count the jumps out loud.", "Say each number as the red circle
finishes a bounce."). The target model says "One.", "Two.", ... as each
repetition completes, and is silent between the counts and after the last.

Timeline (times in ms from the episode start; speech times are when it is
*heard*; tick t's camera frame is captured at the end of tick t, see
`data_pipelines.scenes`):

- The request starts 200-1000 ms in. Half the episodes have a short
  acknowledgement ("Okay, counting.") heard 300-600 ms after the request's
  last word (window: 200-800 ms after it); it is target speech but not
  required by the metrics.
- The scene's clock is shifted to start 300-1200 ms after the request (and
  after the acknowledgement), and the shape rests 0.4-2 s more before it
  first moves: it moves only once asked.
  The scene is sampled for the time left before the tail (1 s), so the last
  repetition completes at least 1.6 s before the episode ends.
- Repetition k completes at `completion_ms[k]`; its completion tick c is the
  first tick whose frame shows it complete (`scenes.tick_of`). The model
  sees that frame in tick c and speaks from tick c + 1: the count's target
  start is (c + 1) * tick_ms. The window for its heard start is
  [c, c + 3] ticks: one tick early (counting on the beat) to two late.
- Speech fits: every repetition lasts at least 0.8 s (RepCountScene's
  minimum), so completion ticks are at least 4 ticks of 200 ms apart, while
  a number word ("One." ... "Eight.") lasts 0.28-0.45 s in the assistant
  voice; counts never overlap and their windows are disjoint. A draw whose
  counts would overlap (a coarse `tick_ms`) raises ValueError.

Ground truth (`EpisodeScript.truth`), JSON-able; a *span* is {"start_ms",
"end_ms", "start_tick", "end_tick"} with end_tick exclusive, ticks by heard
time (tick t is [t * tick_ms, (t + 1) * tick_ms)):

  family: "repcount"; tick_ms, n_ticks: ints.
  request: span + {"text"}: the user's request (end_ms = its last word's end).
  subject: {"shape", "colour", "motion", "noun"}: what repeats and what the
    request calls one repetition; distractor: {"shape", "colour"} or None.
  count: the number of repetitions shown (= the scene's n_reps); the count
    the model ends on. RepCount metrics on a predicted final count p:
    OBO = |p - count| <= 1, MAE = |p - count| / (count + 0.1).
  completion_ms: list of floats, completion_ticks: list of ints (frame ticks).
  motion_span: {"start_ms", "end_ms"}: first movement to the last completion.
  expected: one utterance per repetition, in order: {"count" (1-based),
    "text", "normalized" (`planning.normalize_numbers`), "accept" (normalized forms that count
    as correct), "start_ms", "end_ms" (target speech), "tick" (heard start
    tick), "window_ticks": [lo, hi] inclusive bounds on the heard start tick,
    "window_ms": [lo * tick_ms, (hi + 1) * tick_ms), "evidence_tick" (the
    completion tick), "evidence_ms"}.
  ack: an utterance as above plus {"required": False}, or None.
  silent_spans: spans where the model must be silent: every tick outside
    the allowances [window lo, window hi + ceil(clip / tick_ms) + 1) of the
    ack and the counts (clip = the utterance's audio length), so the model is
    silent before the first count, between counts and after the last.
  lines: spans + {"speaker", "text", "voice"} of the user's lines.
  marks: {"label", "start_ms", "end_ms"}: the request span and one line
    (end_ms None) per completion, for `episode_view`.

Splits: request phrasings and user voices are disjoint between "train" and
"heldout"; the model's phrasings (numbers, acknowledgements) are shared.
Every draw fits in `min_ticks(tick_ms)` ticks (MIN_EPISODE_MS: 65 ticks of
200 ms; the longest request, at the slowest user voice and rate, lasts 5.5 s);
shorter episodes raise ValueError. Longer episodes show more and slower
repetitions.

Speech placement, spans, utterances, silent spans and the request/ack
opening are `planning`'s video-family helpers (`say_clip`, `span_exclusive`,
`clip_utterance`, `open_episode`, ...), shared with `proactive_qa` and
`charades`.
"""

from collections.abc import Mapping
import dataclasses

import numpy as np

from data_pipelines import episode
from data_pipelines import scenes
from data_pipelines.scenarios import common
from data_pipelines.scenarios import planning

NAME = "repcount"
MIN_EPISODE_MS = 13_000  # 65 ticks of 200 ms.
TAIL_MS = 1000  # Scene-free time at the end: the last count is said and heard out.
_MIN_SCENE_S = 3.2  # Two repetitions of >= 0.8 s with jitter, plus the scene's rests.

# (noun, plural noun, what the subject does once), by how the subject moves.
_MOTION_WORDS: Mapping[str, tuple[tuple[str, str, str], ...]] = {
    "up": (("jump", "jumps", "jumps"), ("hop", "hops", "hops up")),
    "down": (("bounce", "bounces", "bounces down"), ("dip", "dips", "dips down")),
    "sideways": (("swing", "swings", "swings to the side"), ("slide", "slides", "slides over")),
    "grow": (("pulse", "pulses", "pulses"), ("pulse", "pulses", "grows")),
    "shrink": (("squeeze", "squeezes", "shrinks"), ("shrink", "shrinks", "shrinks back")),
    "turn": (("twist", "twists", "twists"), ("turn", "turns", "turns")),
}


def _movement(scene: scenes.RepCountScene) -> str:
  """The `_MOTION_WORDS` key of the scene's motion."""
  if scene.motion == "vertical":
    return "down" if scene.amplitude > 0 else "up"  # y grows downwards.
  if scene.motion == "scale":
    return "grow" if scene.amplitude > 1 else "shrink"
  return "sideways" if scene.motion == "horizontal" else "turn"


# {subject}: "the red circle"; {noun} / {nouns}: one / several repetitions;
# {verb}: what the subject does once ("jumps").
_REQUESTS = {
    "train": (
        "Count the {nouns} out loud.",
        "Count out loud how often {subject} {verb}.",
        "Say each number as {subject} finishes a {noun}.",
        "Watch {subject} and count every {noun} out loud.",
        "Every time {subject} {verb}, say the next number.",
        "Can you count the {nouns} out loud for me?",
        "Keep a running count of the {nouns}, out loud.",
        "Count {subject}'s {nouns} as they happen.",
        "Please count each {noun} of {subject} aloud.",
        "Out loud, count the times {subject} {verb}.",
    ),
    "heldout": (
        "Call out a number each time {subject} {verb}.",
        "Number the {nouns} out loud as you see them.",
        "I want to hear you count every {noun} {subject} makes.",
        "Tally the {nouns} out loud, one number per {noun}.",
        "Say the count whenever {subject} completes a {noun}.",
        "Track {subject} and speak the count after each {noun}.",
    ),
}
_ACKS = ("Okay.", "Sure.", "Counting.", "Okay, counting.", "Ready.")


def min_ticks(tick_ms: int) -> int:
  """The fewest ticks in which every RepCount draw fits."""
  return planning.ticks_for(MIN_EPISODE_MS, tick_ms)


def _count_text(k: int) -> str:
  return planning.number_word(k).capitalize() + "."


def make_script(rng: np.random.Generator, split: str, n_ticks: int,
                tick_ms: int) -> episode.EpisodeScript:
  """One RepCount episode (see the module docstring for what is guaranteed)."""
  common.check_split(split)
  planning.check_length(NAME, n_ticks, tick_ms, MIN_EPISODE_MS)
  # The look of the scene first (the request names it), its timing once the request is placed.
  look = scenes.RepCountScene.sample(rng)
  noun, nouns, verb = common.choose(rng, _MOTION_WORDS[_movement(look)])
  template = common.phrasing(rng, split, _REQUESTS)
  text = template.format(subject=f"the {look.colour} {look.shape}", noun=noun, nouns=nouns,
                         verb=verb)
  opening = planning.open_episode(rng, text, common.user_voice(rng, split), _ACKS, tick_ms)
  budget_s = planning.scene_budget_s(opening, n_ticks, tick_ms, TAIL_MS)
  if budget_s < _MIN_SCENE_S:
    raise planning.too_short_draw(NAME, _MIN_SCENE_S, budget_s, n_ticks, tick_ms)
  timing = scenes.RepCountScene.sample(rng, motion=look.motion,
                                       distractor=look.distractor is not None,
                                       duration_s=budget_s)
  scene = dataclasses.replace(look, start_s=opening.scene_start_ms / 1000 + timing.start_s,
                              rep_durations_s=timing.rep_durations_s,
                              duration_s=n_ticks * tick_ms / 1000)

  counts, windows, expected = [], [], []
  for k, (t_s, tick) in enumerate(zip(scene.completion_times_s(),
                                      scene.completion_ticks(tick_ms)), start=1):
    start_ms, window = planning.reaction(tick, tick, tick_ms)
    said = planning.say_clip("model", _count_text(k), common.ASSISTANT_VOICE, start_ms)
    counts.append(said)
    windows.append(window)
    expected.append(planning.clip_utterance(said, window, (), tick_ms, count=k,
                                            evidence_tick=tick, evidence_ms=1000 * t_s))
  model = opening.model_lines() + counts
  planning.check_model_lines(model, n_ticks, tick_ms)

  allowances = [planning.allowance(s, w, tick_ms) for s, w in zip(counts, windows)]
  if opening.ack:
    allowances.append(planning.allowance(opening.ack, opening.ack_window, tick_ms))
  completion_ms = [1000 * t for t in scene.completion_times_s()]
  request = opening.request
  truth = dict(
      family=NAME, tick_ms=tick_ms, n_ticks=n_ticks,
      **opening.truth(_ACKS, tick_ms),
      subject=dict(shape=scene.shape, colour=scene.colour, motion=scene.motion, noun=noun),
      distractor=(None if scene.distractor is None else
                  dict(shape=scene.distractor.shape, colour=scene.distractor.colour)),
      count=scene.n_reps,
      completion_ms=completion_ms,
      completion_ticks=list(scene.completion_ticks(tick_ms)),
      motion_span=dict(start_ms=1000 * scene.start_s, end_ms=completion_ms[-1]),
      expected=expected,
      silent_spans=planning.silent_spans(allowances, n_ticks, tick_ms,
                                          span_of=planning.span_exclusive),
      lines=[planning.clip_line(request, tick_ms)],
      marks=[planning.mark("request", request.start_ms, request.end_ms)]
      + [planning.mark(f"rep {k}", ms) for k, ms in enumerate(completion_ms, start=1)],
  )
  lines = tuple(s.line for s in sorted([request] + model, key=lambda s: s.start_ms))
  return episode.EpisodeScript(family=NAME, n_ticks=n_ticks, lines=lines, scene=scene,
                               truth=truth)


FAMILY = common.Family(name=NAME, make_script=make_script, needs_video=True)
