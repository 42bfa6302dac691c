"""Planning helpers the scenario families share: speech placed in time, and its ground truth.

All times are *heard* times in ms from the episode start; tick t is
[t * tick_ms, (t + 1) * tick_ms). Speech durations come from the default
speech cache (`synthesize`), so a plan knows exactly where every word falls.

The families grew three ways of placing a line, each with its own rounding;
they are kept apart (not merged) so that every family's episodes stay
bit-identical:

- `Timeline` / `Heard` (turntaking, delegation): words start at their sample
  rounded down and end rounded up; `Heard.end_ms` is the end of the *audio*.
- `say` / `Said` (timespeak, cuespeak): word times rounded to the nearest ms;
  `Said.end_ms` is the end of the last word.
- `say_clip` / `Clip` (the video families repcount, proactive_qa, charades):
  no word times; `Clip.end_ms` is the last word's end rounded up.

Two span conventions (dicts {"start_ms", "end_ms", "start_tick", "end_tick"}):
`span` (end_tick holds the span's last millisecond) and `span_exclusive`
(end_tick is the first tick after the span), and two content normalizations:
`normalize` and `normalize_numbers` (digits 0-20 also read as number words).
"""

from collections.abc import Callable, Sequence
import copy
import dataclasses
import math
import re
from typing import Any, NamedTuple

import numpy as np

from data_pipelines import episode
from data_pipelines import speech
from data_pipelines import speech_cache
from data_pipelines.scenarios import common

# Conversation timing (turntaking, delegation): the model's response is heard
# RESPONSE_GAP_MS after a turn's end, and metrics accept RESPONSE_WINDOW_MS.
RESPONSE_GAP_MS = (200, 600)
RESPONSE_WINDOW_MS = (0, 1200)
LEAD_MS = (200, 1500)  # Silence before an episode's first unit (`fill_episode`).
EXCHANGE_GAP_MS = (800, 2500)  # Silence between units (`fill_episode`).
TAIL_MS = 1000  # The last sound ends this long before the episode's end (`fill_episode`).
_ATTEMPTS = 40


# Speech and words -------------------------------------------------------------


def synthesize(text: str, voice: speech_cache.Voice) -> speech.Speech:
  """`text` spoken by `voice`, through the default speech cache (read at each call)."""
  return speech_cache.SpeechCache().synthesize(text, voice)


def _synthesize_words(text: str, voice: speech_cache.Voice) -> speech.Speech:
  """`synthesize`, or ValueError if espeak finds no words in `text`."""
  spoken = synthesize(text, voice)
  if not spoken.words:
    raise ValueError(f"espeak found no words in {text!r}")
  return spoken


def samples_to_ms(samples: int) -> int:
  """The duration of `samples` at `speech.SAMPLE_RATE`, rounded up to whole ms."""
  return int(math.ceil(samples * 1000 / speech.SAMPLE_RATE))


_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                 "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                 "seventeen", "eighteen", "nineteen", "twenty")
_TENS = {20: "twenty", 30: "thirty"}


def number_word(n: int) -> str:
  """English words for 0 <= n < 40 ("seven", "twenty-five"); ValueError otherwise."""
  if 0 <= n <= 20:
    return _NUMBER_WORDS[n]
  if 20 < n < 40:
    tens, units = divmod(n, 10)
    return _TENS[10 * tens] + (f"-{_NUMBER_WORDS[units]}" if units else "")
  raise ValueError(f"number_word covers 0..39, got {n}")


def _words(text: str) -> list[str]:
  return re.sub(r"[^a-z0-9']+", " ", text.lower()).split()


def normalize(text: str) -> str:
  """Lower case, punctuation and hyphens to spaces, single spaces: for content matching.

  Apostrophes and digits are kept as they are ("It's 17." gives "it's 17").
  """
  return " ".join(_words(text))


def normalize_numbers(text: str) -> str:
  """`normalize`, with each number 0-20 written in digits read as its word.

  "3 circles." and "Three circles!" both give "three circles"; "21" stays "21".
  """
  return " ".join(number_word(int(w)) if w.isdigit() and int(w) <= 20 else w
                  for w in _words(text))


# Time -------------------------------------------------------------------------


def uniform_ms(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
  """An integer number of ms drawn uniformly from [low, high]."""
  return int(rng.integers(bounds[0], bounds[1] + 1))


def ticks_for(ms: int, tick_ms: int) -> int:
  """The fewest ticks that last `ms`."""
  return -(-ms // tick_ms)


def span(start_ms: float, end_ms: float, tick_ms: int) -> dict[str, int]:
  """The span [start_ms, end_ms]: start rounded down, end up; end_tick holds its last ms."""
  start, end = int(start_ms), int(math.ceil(end_ms))
  return {"start_ms": start, "end_ms": end, "start_tick": common.tick_of(start, tick_ms),
          "end_tick": common.tick_of(max(start, end - 1), tick_ms)}


def span_exclusive(start_ms: float, end_ms: float, tick_ms: int) -> dict[str, int]:
  """The span [start_ms, end_ms), both rounded to the nearest ms; end_tick is exclusive."""
  start_ms, end_ms = int(round(start_ms)), int(round(end_ms))
  return dict(start_ms=start_ms, end_ms=end_ms, start_tick=common.tick_of(start_ms, tick_ms),
              end_tick=ticks_for(end_ms, tick_ms))


# Where the model may speak ----------------------------------------------------


def allowance(said: "Said | Clip", window_ticks: tuple[int, int], tick_ms: int) -> tuple[int, int]:
  """Ticks [a, b) in which an utterance may be heard if it starts anywhere in its window.

  `said` is a `Said` or `Clip`. a = window lo; b - 1 = window hi +
  ceil(clip / tick_ms), the last tick a start in tick hi reaches with the clip.
  """
  return window_ticks[0], window_ticks[1] + ticks_for(said.clip_ms, tick_ms) + 1


def silent_spans(allowances: Sequence[tuple[int, int]], n_ticks: int, tick_ms: int,
                 span_of: Callable[[float, float, int], dict[str, int]] = span
                 ) -> list[dict[str, int]]:
  """The maximal runs of ticks in [0, n_ticks) outside every allowance [a, b), in order.

  Each run [t, end) is given as span_of(t * tick_ms, end * tick_ms, tick_ms).
  """
  quiet = np.ones(n_ticks, bool)
  for a, b in allowances:
    quiet[max(a, 0):min(b, n_ticks)] = False
  spans, t = [], 0
  while t < n_ticks:
    if not quiet[t]:
      t += 1
      continue
    end = t
    while end < n_ticks and quiet[end]:
      end += 1
    spans.append(span_of(t * tick_ms, end * tick_ms, tick_ms))
    t = end
  return spans


# Conversation timeline (turntaking, delegation) -------------------------------


class NoFit(Exception):
  """The drawn variation does not fit; the planner draws again."""


@dataclasses.dataclass(frozen=True)
class Heard:
  """A line on a `Timeline` with its heard times (ms from the episode start).

  end_ms: end of its audio (rounded up); speech_end_ms: end of its last word.
  words: (char_end, start_ms, end_ms) of each word, starts rounded down and
  ends rounded up.
  """
  line: episode.Line
  end_ms: int
  speech_end_ms: int
  words: tuple[tuple[int, int, int], ...]


class Timeline:
  """Lines placed at heard times, with exact durations from the speech cache."""

  def __init__(self, tick_ms: int):
    self.tick_ms = tick_ms
    self.lines: list[episode.Line] = []
    self.end_ms = 0  # the latest audio end or hold so far.

  def say(self, speaker: str, text: str, start_ms: int, voice: speech_cache.Voice) -> Heard:
    """Adds a line of `text` in `voice`, heard from start_ms."""
    spoken = synthesize(text, voice)
    line = episode.Line(speaker, text, int(start_ms), voice)
    words = tuple((w.char_end, start_ms + w.start_sample * 1000 // speech.SAMPLE_RATE,
                   start_ms + samples_to_ms(w.end_sample)) for w in spoken.words)
    heard = Heard(line, start_ms + samples_to_ms(len(spoken.audio)), words[-1][2], words)
    self.lines.append(line)
    self.hold(heard.end_ms)
    return heard

  def hold(self, until_ms: int) -> None:
    """Keeps the next unit from starting before `until_ms`."""
    self.end_ms = max(self.end_ms, int(until_ms))

  def span(self, start_ms: float, end_ms: float) -> dict:
    """`span` at this timeline's tick length."""
    return span(start_ms, end_ms, self.tick_ms)

  def utterance(self, heard: Heard, role: str, window_ms: tuple[int, int], **extra) -> dict:
    """The ground truth of a model line: span (to its audio end) + {text, normalized, role,
    window_ms, window_ticks, **extra}; AssertionError if it starts outside window_ms."""
    if not window_ms[0] <= heard.line.start_ms <= window_ms[1]:
      raise AssertionError(f"target start {heard.line.start_ms} outside its window {window_ms}")
    return {**self.span(heard.line.start_ms, heard.end_ms), "text": heard.line.text,
            "normalized": normalize(heard.line.text), "role": role,
            "window_ms": [int(window_ms[0]), int(window_ms[1])],
            "window_ticks": [common.tick_of(w, self.tick_ms) for w in window_ms], **extra}


def fill_episode(rng: np.random.Generator, make_timeline: Callable[[], Timeline],
                 plan_unit: Callable[[np.random.Generator, Timeline, int], None],
                 n_ticks: int, tick_ms: int, min_ms: int, max_units: int,
                 what: str) -> Timeline:
  """Plans one to `max_units` units back to back; the count is drawn uniformly.

  `plan_unit(rng, timeline, start_ms)` adds one unit starting at or after
  start_ms, or raises NoFit. The first unit starts after a LEAD_MS silence and
  is drawn again (up to 40 times) until it ends `TAIL_MS` before the
  episode's end; later units follow after EXCHANGE_GAP_MS and are kept only if
  they fit (planning stops at the first that does not). Raises ValueError if
  n_ticks * tick_ms < min_ms or if no first unit fits.
  """
  min_ticks = math.ceil(min_ms / tick_ms)
  if n_ticks < min_ticks:
    raise ValueError(f"{what} episodes need at least {min_ticks} ticks of {tick_ms} ms "
                     f"({min_ms} ms); got n_ticks={n_ticks}")
  limit = n_ticks * tick_ms - TAIL_MS
  wanted = int(rng.integers(1, max_units + 1))
  timeline = None
  for _ in range(_ATTEMPTS):
    trial = make_timeline()
    try:
      plan_unit(rng, trial, uniform_ms(rng, LEAD_MS))
    except NoFit:
      continue
    if trial.end_ms <= limit:
      timeline = trial
      break
  if timeline is None:
    raise ValueError(f"no {what} exchange fits in {n_ticks} ticks of {tick_ms} ms after "
                     f"{_ATTEMPTS} draws; lengthen the episode")
  for _ in range(wanted - 1):
    trial = copy.deepcopy(timeline)
    try:
      plan_unit(rng, trial, timeline.end_ms + uniform_ms(rng, EXCHANGE_GAP_MS))
    except NoFit:
      break
    if trial.end_ms > limit:
      break
    timeline = trial
  return timeline


# Lines with word times (timespeak, cuespeak) -----------------------------------


class Word(NamedTuple):
  """A word of a placed line; times in ms from the episode start."""
  text: str
  char_start: int
  start_ms: int
  end_ms: int


@dataclasses.dataclass(frozen=True)
class Said:
  """A line placed on the timeline, with its words' heard times (nearest ms).

  end_ms is the end of the last word; audio_end_ms the end of the clip
  (rounded up; espeak may append a short pause after the last word).
  """
  line: episode.Line
  words: tuple[Word, ...]
  audio_end_ms: int

  @property
  def start_ms(self) -> int:
    return self.line.start_ms

  @property
  def end_ms(self) -> int:
    return self.words[-1].end_ms

  @property
  def clip_ms(self) -> int:
    return self.audio_end_ms - self.start_ms

  def moved(self, start_ms: int) -> "Said":
    """The same line heard from `start_ms` instead."""
    delta = int(start_ms) - self.start_ms
    return Said(line=dataclasses.replace(self.line, start_ms=int(start_ms)),
                words=tuple(w._replace(start_ms=w.start_ms + delta, end_ms=w.end_ms + delta)
                            for w in self.words),
                audio_end_ms=self.audio_end_ms + delta)


def say(speaker: str, text: str, voice: speech_cache.Voice, start_ms: int) -> Said:
  """Synthesizes `text` and places it at `start_ms`; ValueError if espeak finds no words."""
  spoken = _synthesize_words(text, voice)
  start_ms = int(start_ms)
  per_ms = spoken.sample_rate / 1000
  words = tuple(Word(w.text, w.char_start, start_ms + round(w.start_sample / per_ms),
                     start_ms + round(w.end_sample / per_ms)) for w in spoken.words)
  return Said(line=episode.Line(speaker, text, start_ms, voice), words=words,
              audio_end_ms=start_ms + math.ceil(len(spoken.audio) / per_ms))


def line_span(said: Said, tick_ms: int) -> dict[str, Any]:
  """The truth `lines` entry of a user / other line: `span` + {speaker, text, voice}."""
  return dict(speaker=said.line.speaker, text=said.line.text, voice=said.line.voice.name,
              **span(said.start_ms, said.end_ms, tick_ms))


def utterance(said: Said, role: str, accept: Sequence[str], window_ticks: tuple[int, int],
              tick_ms: int) -> dict[str, Any]:
  """The truth entry of an expected model utterance.

  `span` of its speech + {text, normalized, accept (sorted normalized forms,
  its own included), role, tolerance_ticks, window_ticks: [lo, hi], window_ms:
  [lo * tick_ms, (hi + 1) * tick_ms - 1]}; AssertionError if its start tick
  is outside the window.
  """
  lo, hi = window_ticks
  tick = common.tick_of(said.start_ms, tick_ms)
  if not lo <= tick <= hi:
    raise AssertionError(f"target tick {tick} of {said.line.text!r} is outside its window "
                         f"{lo}..{hi}")
  normalized = normalize(said.line.text)
  return dict(**span(said.start_ms, said.end_ms, tick_ms), text=said.line.text,
              normalized=normalized, accept=sorted({normalized, *(normalize(a) for a in accept)}),
              role=role, tolerance_ticks=max(tick - lo, hi - tick), window_ticks=[lo, hi],
              window_ms=[lo * tick_ms, (hi + 1) * tick_ms - 1])


def ack_window(t0: int, said: Said, tick_ms: int) -> tuple[int, int]:
  """Ticks where an acknowledgement of a request ending at t0 may start: from the
  tick after t0 (or the ack's own tick, if earlier) to the tick holding t0 + 800 ms."""
  tick = common.tick_of(said.start_ms, tick_ms)
  return min(common.tick_of(t0, tick_ms) + 1, tick), common.tick_of(t0 + 800, tick_ms)


# Lines as whole clips (repcount, proactive_qa, charades) -----------------------


class Clip(NamedTuple):
  """A line placed on the timeline: heard from line.start_ms, last word ending at end_ms.

  end_ms is rounded up; audio_end_ms is the end of the clip (espeak adds a
  short pause after the last word), rounded up.
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


def say_clip(speaker: str, text: str, voice: speech_cache.Voice, start_ms: int) -> Clip:
  """Synthesizes `text` and places it at `start_ms`; ValueError if espeak finds no words."""
  spoken = _synthesize_words(text, voice)
  per_ms = spoken.sample_rate / 1000
  start_ms = int(start_ms)
  return Clip(line=episode.Line(speaker, text, start_ms, voice),
              end_ms=start_ms + math.ceil(spoken.words[-1].end_sample / per_ms),
              audio_end_ms=start_ms + math.ceil(len(spoken.audio) / per_ms))


def clip_line(clip: Clip, tick_ms: int) -> dict[str, Any]:
  """The truth `lines` entry of a user line: `span_exclusive` + {speaker, text, voice}."""
  return dict(speaker=clip.line.speaker, text=clip.line.text, voice=clip.line.voice.name,
              **span_exclusive(clip.start_ms, clip.end_ms, tick_ms))


def clip_utterance(clip: Clip, window_ticks: tuple[int, int], accept: Sequence[str],
                   tick_ms: int, **extra) -> dict[str, Any]:
  """The truth entry of a model utterance whose heard start must fall in `window_ticks`.

  {text, normalized (`normalize_numbers`), accept (sorted, its own form
  included), start_ms, end_ms, tick, window_ticks: [lo, hi], window_ms:
  [lo * tick_ms, (hi + 1) * tick_ms], **extra}; AssertionError if its start
  tick is outside the window.
  """
  lo, hi = window_ticks
  tick = common.tick_of(clip.start_ms, tick_ms)
  if not lo <= tick <= hi:
    raise AssertionError(f"target tick {tick} of {clip.line.text!r} is outside its window "
                         f"{lo}..{hi}")
  normalized = normalize_numbers(clip.line.text)
  return dict(text=clip.line.text, normalized=normalized,
              accept=sorted({normalized, *(normalize_numbers(a) for a in accept)}),
              start_ms=clip.start_ms, end_ms=clip.end_ms, tick=tick, window_ticks=[lo, hi],
              window_ms=[lo * tick_ms, (hi + 1) * tick_ms], **extra)


def reaction(evidence_tick: int, earliest_tick: int, tick_ms: int) -> tuple[int, tuple[int, int]]:
  """(target heard start in ms, heard-start window in ticks) of a reaction to a frame.

  The model sees the frame of `evidence_tick` in that tick and is heard from
  the next: the target start is (evidence_tick + 1) * tick_ms. The window runs
  from `earliest_tick` to two ticks after the target.
  """
  return (evidence_tick + 1) * tick_ms, (earliest_tick, evidence_tick + 3)


def check_model_lines(clips: Sequence[Clip], n_ticks: int, tick_ms: int) -> None:
  """ValueError unless the model's lines are in order, never overlap and end in the episode."""
  for before, after in zip(clips, clips[1:]):
    if after.start_ms < before.audio_end_ms:
      raise ValueError(f"model lines {before.line.text!r} and {after.line.text!r} would overlap "
                       f"(tick_ms={tick_ms} is too coarse for this scene)")
  if clips and clips[-1].audio_end_ms > n_ticks * tick_ms:
    raise ValueError(f"model line {clips[-1].line.text!r} ends after the episode's "
                     f"{n_ticks} ticks of {tick_ms} ms")


class Opening(NamedTuple):
  """The user's request, the model's optional acknowledgement, and when the scene's clock starts."""
  request: Clip
  ack: Clip | None
  ack_window: tuple[int, int]
  scene_start_ms: int

  def model_lines(self) -> list[Clip]:
    return [self.ack] if self.ack else []

  def truth(self, acks: Sequence[str], tick_ms: int) -> dict[str, Any]:
    """The "request" and "ack" truth entries."""
    request = dict(text=self.request.line.text,
                   **span_exclusive(self.request.start_ms, self.request.end_ms, tick_ms))
    ack = None
    if self.ack:
      ack = dict(clip_utterance(self.ack, self.ack_window, acks, tick_ms), required=False)
    return dict(request=request, ack=ack)


def open_episode(rng: np.random.Generator, text: str, voice: speech_cache.Voice,
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
  request = say_clip("user", text, voice, lead_ms)
  ack, window = None, (0, 0)
  scene_start_ms = request.end_ms + gap_ms
  if with_ack:
    ack = say_clip("model", ack_text, common.ASSISTANT_VOICE, request.end_ms + ack_delay_ms)
    window = (common.tick_of(request.end_ms + 200, tick_ms),
              common.tick_of(request.end_ms + 800, tick_ms))
    scene_start_ms = max(scene_start_ms, ack.audio_end_ms + 200)
  return Opening(request, ack, window, scene_start_ms)


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
  """The error for a draw that needs more scene time than the episode leaves."""
  return ValueError(f"{name}: this draw needs {needed_s:.1f} s of scene after the request but "
                    f"n_ticks={n_ticks} (tick_ms={tick_ms}) leaves {budget_s:.1f} s; "
                    f"lengthen the episode")


def mark(label: str, start_ms: float, end_ms: float | None = None) -> dict[str, Any]:
  """A ground-truth mark for the episode timeline plot (`episode_view`)."""
  return dict(label=label, start_ms=float(start_ms),
              end_ms=None if end_ms is None else float(end_ms))
