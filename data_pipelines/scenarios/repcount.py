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
    "text", "normalized" (`normalize`), "accept" (normalized forms that count
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

The helpers below the "Shared" line (speech placement, spans, utterances,
silent spans, the request/ack opening) are used by the other video
families, `proactive_qa` and `charades`.
"""

from collections.abc import Mapping, Sequence
import dataclasses
import math
import re
from typing import Any, NamedTuple

import numpy as np

from data_pipelines import episode
from data_pipelines import scenes
from data_pipelines import speech_cache as cache_lib
from data_pipelines.scenarios import common

# ----------------------------------------------------------------------------
# Shared by the video families.

_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                 "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                 "seventeen", "eighteen", "nineteen", "twenty")


def number_word(n: int) -> str:
  """"zero" ... "twenty"."""
  if not 0 <= n < len(_NUMBER_WORDS):
    raise ValueError(f"number_word covers 0..{len(_NUMBER_WORDS) - 1}, got {n}")
  return _NUMBER_WORDS[n]


def normalize(text: str) -> str:
  """The exact-match form: lower case, digits 0-20 as words, punctuation to spaces.

  Apostrophes are kept ("it's"); "3 circles." and "Three circles!" both give
  "three circles".
  """
  words = re.sub(r"[^a-z0-9']+", " ", text.lower()).split()
  return " ".join(number_word(int(w)) if w.isdigit() and int(w) <= 20 else w for w in words)


_cache: cache_lib.SpeechCache | None = None


def speech_cache() -> cache_lib.SpeechCache:
  """The speech cache used for planning (default directory), created on first use."""
  global _cache
  if _cache is None:
    _cache = cache_lib.SpeechCache()
  return _cache


class Said(NamedTuple):
  """A line placed on the timeline: heard from line.start_ms, last word ending at end_ms.

  audio_end_ms is the end of the clip (espeak adds a short pause after the
  last word).
  """
  line: episode.Line
  end_ms: int
  audio_end_ms: int

  @property
  def start_ms(self) -> int:
    return self.line.start_ms

  @property
  def clip_ms(self) -> int:
    return self.audio_end_ms - self.start_ms


def say(speaker: str, text: str, voice: cache_lib.Voice, start_ms: int) -> Said:
  """Synthesizes `text` (through `speech_cache()`) and places it at `start_ms`."""
  spoken = speech_cache().synthesize(text, voice)
  if not spoken.words:
    raise ValueError(f"espeak found no words in {text!r}")
  per_ms = spoken.sample_rate / 1000
  start_ms = int(start_ms)
  return Said(line=episode.Line(speaker, text, start_ms, voice),
              end_ms=start_ms + math.ceil(spoken.words[-1].end_sample / per_ms),
              audio_end_ms=start_ms + math.ceil(len(spoken.audio) / per_ms))


def ticks_for(ms: int, tick_ms: int) -> int:
  """The fewest ticks that last `ms`."""
  return -(-ms // tick_ms)


def span(start_ms: float, end_ms: float, tick_ms: int) -> dict[str, int]:
  """{"start_ms", "end_ms", "start_tick", "end_tick" (exclusive)} of heard time [start, end)."""
  start_ms, end_ms = int(round(start_ms)), int(round(end_ms))
  return dict(start_ms=start_ms, end_ms=end_ms, start_tick=common.tick_of(start_ms, tick_ms),
              end_tick=ticks_for(end_ms, tick_ms))


def line_entry(said: Said, tick_ms: int) -> dict[str, Any]:
  """The truth `lines` entry of a user line."""
  return dict(speaker=said.line.speaker, text=said.line.text, voice=said.line.voice.name,
              **span(said.start_ms, said.end_ms, tick_ms))


def utterance(said: Said, window_ticks: tuple[int, int], accept: Sequence[str],
              tick_ms: int, **extra) -> dict[str, Any]:
  """The truth entry of a model utterance whose heard start must fall in `window_ticks`."""
  lo, hi = window_ticks
  tick = common.tick_of(said.start_ms, tick_ms)
  if not lo <= tick <= hi:
    raise AssertionError(f"target tick {tick} of {said.line.text!r} is outside its window "
                         f"{lo}..{hi}")
  normalized = normalize(said.line.text)
  return dict(text=said.line.text, normalized=normalized,
              accept=sorted({normalized, *(normalize(a) for a in accept)}),
              start_ms=said.start_ms, end_ms=said.end_ms, tick=tick, window_ticks=[lo, hi],
              window_ms=[lo * tick_ms, (hi + 1) * tick_ms], **extra)


def reaction(evidence_tick: int, earliest_tick: int, tick_ms: int) -> tuple[int, tuple[int, int]]:
  """(target heard start in ms, heard-start window in ticks) of a reaction to a frame.

  The model sees the frame of `evidence_tick` in that tick and is heard from
  the next: the target start is (evidence_tick + 1) * tick_ms. The window runs
  from `earliest_tick` to two ticks after the target.
  """
  return (evidence_tick + 1) * tick_ms, (earliest_tick, evidence_tick + 3)


def allowance(said: Said, window_ticks: tuple[int, int], tick_ms: int) -> tuple[int, int]:
  """Heard ticks [a, b) an utterance allowed to start within `window_ticks` may occupy."""
  return window_ticks[0], window_ticks[1] + ticks_for(said.clip_ms, tick_ms) + 1


def silent_spans(allowances: Sequence[tuple[int, int]], n_ticks: int,
                 tick_ms: int) -> list[dict[str, int]]:
  """Spans of the ticks [0, n_ticks) outside every allowance [a, b)."""
  quiet = np.ones(n_ticks, bool)
  for a, b in allowances:
    quiet[max(a, 0):min(b, n_ticks)] = False
  spans, t = [], 0
  while t < n_ticks:
    if quiet[t]:
      end = t
      while end < n_ticks and quiet[end]:
        end += 1
      spans.append(span(t * tick_ms, end * tick_ms, tick_ms))
      t = end
    else:
      t += 1
  return spans


def check_model_lines(said: Sequence[Said], n_ticks: int, tick_ms: int) -> None:
  """ValueError unless the model's lines are in order, never overlap and end in the episode."""
  for before, after in zip(said, said[1:]):
    if after.start_ms < before.audio_end_ms:
      raise ValueError(f"model lines {before.line.text!r} and {after.line.text!r} would overlap "
                       f"(tick_ms={tick_ms} is too coarse for this scene)")
  if said and said[-1].audio_end_ms > n_ticks * tick_ms:
    raise ValueError(f"model line {said[-1].line.text!r} ends after the episode's "
                     f"{n_ticks} ticks of {tick_ms} ms")


class Opening(NamedTuple):
  """The user's request, the model's optional acknowledgement, and when the scene's clock starts."""
  request: Said
  ack: Said | None
  ack_window: tuple[int, int]
  scene_start_ms: int

  def model_lines(self) -> list[Said]:
    return [self.ack] if self.ack else []

  def truth(self, acks: Sequence[str], tick_ms: int) -> dict[str, Any]:
    """The "request" and "ack" truth entries."""
    request = dict(text=self.request.line.text,
                   **span(self.request.start_ms, self.request.end_ms, tick_ms))
    ack = None
    if self.ack:
      ack = dict(utterance(self.ack, self.ack_window, acks, tick_ms), required=False)
    return dict(request=request, ack=ack)


def open_episode(rng: np.random.Generator, text: str, voice: cache_lib.Voice,
                 acks: Sequence[str], tick_ms: int) -> Opening:
  """The request heard from 200-1000 ms; with probability 0.5 an ack 300-600 ms after it.

  The ack's window for its heard start spans 200-800 ms after the request's
  last word. The scene's clock starts 300-1200 ms after that word, and at
  least 200 ms after the ack's end.
  """
  lead_ms, ack_delay_ms, gap_ms = (int(rng.integers(200, 1001)), int(rng.integers(300, 601)),
                                   int(rng.integers(300, 1201)))
  ack_text = common.choose(rng, acks)
  with_ack = bool(rng.random() < 0.5)
  request = say("user", text, voice, lead_ms)
  ack, ack_window = None, (0, 0)
  scene_start_ms = request.end_ms + gap_ms
  if with_ack:
    ack = say("model", ack_text, common.ASSISTANT_VOICE, request.end_ms + ack_delay_ms)
    ack_window = (common.tick_of(request.end_ms + 200, tick_ms),
                  common.tick_of(request.end_ms + 800, tick_ms))
    scene_start_ms = max(scene_start_ms, ack.audio_end_ms + 200)
  return Opening(request, ack, ack_window, scene_start_ms)


def scene_budget_s(opening: Opening, n_ticks: int, tick_ms: int, tail_ms: int) -> float:
  """Seconds of scene between the opening and the last `tail_ms` of the episode."""
  return (n_ticks * tick_ms - tail_ms - opening.scene_start_ms) / 1000


def check_length(name: str, n_ticks: int, tick_ms: int, min_episode_ms: int) -> None:
  """ValueError naming the minimum when `n_ticks` is shorter than `min_episode_ms`."""
  needed = ticks_for(min_episode_ms, tick_ms)
  if n_ticks < needed:
    raise ValueError(f"{name} needs n_ticks >= {needed} ({min_episode_ms} ms at "
                     f"tick_ms={tick_ms}), got n_ticks={n_ticks}")


def too_short_draw(name: str, needed_s: float, budget_s: float, n_ticks: int,
                   tick_ms: int) -> ValueError:
  return ValueError(f"{name}: this draw needs {needed_s:.1f} s of scene after the request but "
                    f"n_ticks={n_ticks} (tick_ms={tick_ms}) leaves {budget_s:.1f} s; "
                    f"lengthen the episode")


def mark(label: str, start_ms: float, end_ms: float | None = None) -> dict[str, Any]:
  """A ground-truth mark for the episode timeline plot."""
  return dict(label=label, start_ms=float(start_ms),
              end_ms=None if end_ms is None else float(end_ms))


# ----------------------------------------------------------------------------
# RepCount.

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
  return ticks_for(MIN_EPISODE_MS, tick_ms)


def _count_text(k: int) -> str:
  return number_word(k).capitalize() + "."


def make_script(rng: np.random.Generator, split: str, n_ticks: int,
                tick_ms: int) -> episode.EpisodeScript:
  """One RepCount episode (see the module docstring for what is guaranteed)."""
  common.check_split(split)
  check_length(NAME, n_ticks, tick_ms, MIN_EPISODE_MS)
  # The look of the scene first (the request names it), its timing once the request is placed.
  look = scenes.RepCountScene.sample(rng)
  noun, nouns, verb = common.choose(rng, _MOTION_WORDS[_movement(look)])
  template = common.phrasing(rng, split, _REQUESTS)
  text = template.format(subject=f"the {look.colour} {look.shape}", noun=noun, nouns=nouns,
                         verb=verb)
  opening = open_episode(rng, text, common.user_voice(rng, split), _ACKS, tick_ms)
  budget_s = scene_budget_s(opening, n_ticks, tick_ms, TAIL_MS)
  if budget_s < _MIN_SCENE_S:
    raise too_short_draw(NAME, _MIN_SCENE_S, budget_s, n_ticks, tick_ms)
  timing = scenes.RepCountScene.sample(rng, motion=look.motion,
                                       distractor=look.distractor is not None,
                                       duration_s=budget_s)
  scene = dataclasses.replace(look, start_s=opening.scene_start_ms / 1000 + timing.start_s,
                              rep_durations_s=timing.rep_durations_s,
                              duration_s=n_ticks * tick_ms / 1000)

  counts, windows, expected = [], [], []
  for k, (t_s, tick) in enumerate(zip(scene.completion_times_s(),
                                      scene.completion_ticks(tick_ms)), start=1):
    start_ms, window = reaction(tick, tick, tick_ms)
    said = say("model", _count_text(k), common.ASSISTANT_VOICE, start_ms)
    counts.append(said)
    windows.append(window)
    expected.append(utterance(said, window, (), tick_ms, count=k, evidence_tick=tick,
                              evidence_ms=1000 * t_s))
  model = opening.model_lines() + counts
  check_model_lines(model, n_ticks, tick_ms)

  allowances = [allowance(s, w, tick_ms) for s, w in zip(counts, windows)]
  if opening.ack:
    allowances.append(allowance(opening.ack, opening.ack_window, tick_ms))
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
      silent_spans=silent_spans(allowances, n_ticks, tick_ms),
      lines=[line_entry(request, tick_ms)],
      marks=[mark("request", request.start_ms, request.end_ms)]
      + [mark(f"rep {k}", ms) for k, ms in enumerate(completion_ms, start=1)],
  )
  lines = tuple(s.line for s in sorted([request] + model, key=lambda s: s.start_ms))
  return episode.EpisodeScript(family=NAME, n_ticks=n_ticks, lines=lines, scene=scene,
                               truth=truth)


FAMILY = common.Family(name=NAME, make_script=make_script, needs_video=True)
