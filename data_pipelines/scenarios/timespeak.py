"""TimeSpeak: the user asks to be spoken to at given times; the model keeps time.

Four sub-tasks, chosen uniformly per episode:

- "periodic": "Remind me to stretch every four seconds until I say stop." The
  model says the reminder (e.g. "Time to stretch.") every period after the
  request ends, until the user says the stop word; then it stays silent.
- "timer": "Tell me when ten seconds have passed." The model says e.g.
  "Time's up." ten seconds after the request ends.
- "countdown": "Count down from five (and then say go)." The model says
  "Five.", "Four.", ... "One." one per second, then the final word if asked.
- "count_up": "Count to eight, one number every two seconds." The model says
  "One.", "Two.", ... one per period.

Timing of the target (what an ideal model does), all times as *heard*:

- The request ends at `t0`, the end of the user's last word.
- periodic / timer: a brief acknowledgement ("Okay.") is heard 300-600 ms
  after `t0`. It is part of the target speech but *not required* by the
  metrics (`truth["ack"]["required"] is False`); it is not in `expected`.
  Its window runs from the tick after `t0` to the tick holding `t0 + 800`.
  Reminder k (k = 1, 2, ...) starts at `t0 + k * period`; the timer's reply
  starts at `t0 + seconds`.
- countdown / count_up: no acknowledgement; the first number starts 300-700 ms
  after `t0` (the reply itself), the next ones every period (1 s for countdowns).
- periodic: the user says a stop phrase between reminder K (1 <= K <= 6; K >= 2
  whenever two reminders fit in the episode) and where reminder K + 1 would be:
  it starts >= 200 ms after reminder K's last word and ends >= 2 ticks before
  reminder K + 1 would start. After the stop the model is silent to the end of
  the episode, which lasts at least until 3 ticks past where reminder K + 1
  would have started.
- With probability 0.4 another person (an `OTHER_VOICES` voice, not talking to
  the model) says a sentence in a quiet stretch; the model ignores it.

Tolerances: an expected utterance is on time when its heard start falls in
`window_ticks = [tick - tol, tick + tol]` with tol = 1 tick for countdown and
count_up words and 2 ticks for reminders and timers (`tolerance_ticks`).

Ticks: tick t is the playback time [t * tick_ms, (t + 1) * tick_ms). A *span*
is `{"start_ms", "end_ms", "start_tick", "end_tick"}` as in `turntaking`:
start_tick holds start_ms and end_tick holds the span's last millisecond.
Model speech heard in tick t is produced by the model's outputs of tick t - 1
(see `data_pipelines.episode`): its text-out carries the first word.

Ground truth (`EpisodeScript.truth`), JSON-able:

  family: "timespeak";  subtask: one of SUBTASKS;  tick_ms, n_ticks: ints.
  request: span + {"text"}: the user's request.
  params: subtask parameters: periodic {"period_s", "content", "stop_word",
    "repeats"}; timer {"seconds"}; countdown {"start", "final" (str or None)};
    count_up {"count", "period_s"}.
  ack: utterance (below) + {"required": False}, or None (count tasks).
  expected: list of utterances the model must say, in time order. An
    utterance is span + {"text": what the target says, "normalized":
    planning.normalize(text), "accept": normalized alternatives that count as correct
    content, "role": "ack" | "reminder" | "timer" | "count",
    "tolerance_ticks": int, "window_ticks": [lo, hi]: the heard start's tick
    must be in lo..hi, "window_ms": [lo * tick_ms, (hi + 1) * tick_ms - 1]:
    the same in ms}. The span is the target speech: start_ms is the target
    start (start_tick = the target tick), end_ms the end of its last word.
  stop: span + {"text", "stop_word"} of the user's stop phrase, or None.
  silent_after: {"start_ms", "start_tick"}: from start_ms to the end the model
    must be silent (the end of the stop phrase, or of the audio of the model's
    last utterance if later); start_tick is the first tick wholly after it.
  silent_spans: spans of whole ticks where the model must not be heard: every
    tick outside the allowances, ticks window lo .. window hi + ceil(clip /
    tick_ms) (clip = the utterance's audio length), of the ack and the
    expected utterances.
  distractors: spans + {"speaker": "other", "text"} of other people's speech.
  lines: spans + {"speaker", "text", "voice"} of every user / other line.

Splits: request, stop and distractor phrasings, and voices (common.USER_VOICES,
OTHER_VOICES), are disjoint between "train" and "heldout". Every draw fits
in `min_ticks(tick_ms)` ticks (MIN_EPISODE_MS); shorter episodes raise
ValueError. Longer episodes get longer counts, timers and more reminders.

Speech placement, spans, utterances, allowances and silent spans are
`planning`'s (`say`, `span`, `utterance`, ...), shared with `cuespeak`; spans
and `normalize` are those of `turntaking`, so all families' truth reads the
same way.
"""

from collections.abc import Sequence
import dataclasses
import math
from typing import Any, Callable, NamedTuple, TypeVar

import numpy as np

from data_pipelines import episode
from data_pipelines import speech_cache as cache_lib
from data_pipelines.scenarios import common
from data_pipelines.scenarios import planning

NAME = "timespeak"
SUBTASKS = ("periodic", "timer", "countdown", "count_up")
MIN_EPISODE_MS = 15_000  # 75 ticks of 200 ms.
_T = TypeVar("_T")

def min_ticks(tick_ms: int) -> int:
  """The fewest ticks in which every TimeSpeak draw fits."""
  return -(-MIN_EPISODE_MS // tick_ms)


# Phrasings ------------------------------------------------------------------

# (what the user asks to be reminded of, what the model may say each time).
_REMINDERS = (
    ("breathe in and out", ("Breathe in, breathe out.", "Breathe.", "In, and out.")),
    ("drink some water", ("Drink some water.", "Water.", "Sip of water.")),
    ("relax my shoulders", ("Relax your shoulders.", "Shoulders down.")),
    ("stretch", ("Stretch.", "Time to stretch.")),
    ("blink", ("Blink.", "Remember to blink.")),
    ("sit up straight", ("Sit up straight.", "Posture.")),
    ("stir the sauce", ("Stir the sauce.", "Stir.")),
    ("rest my eyes", ("Rest your eyes.", "Eyes off the screen.")),
    ("smile", ("Smile.", "Keep smiling.")),
    ("unclench my jaw", ("Unclench your jaw.", "Jaw.")),
)

_PERIODIC = {
    "train": (
        "Remind me to {task} every {n} seconds until I say {stop}.",
        "Every {n} seconds, tell me to {task}. Keep going until I say {stop}.",
        "Could you remind me to {task} every {n} seconds, until I say {stop}?",
        "Please tell me to {task} every {n} seconds until I say {stop}.",
        "I need a reminder to {task} every {n} seconds, until I say {stop}.",
        "Tell me to {task} every {n} seconds; carry on till I say {stop}.",
    ),
    "heldout": (
        "Keep reminding me to {task} every {n} seconds, till I say {stop}.",
        "Every {n} seconds I want you to tell me to {task}, until I say {stop}.",
        "Nudge me to {task} every {n} seconds, up until I say {stop}.",
        "Prompt me to {task} each {n} seconds, until I say {stop}.",
    ),
}
_STOP_WORDS = ("stop", "enough")
_STOPS = {
    "stop": {"train": ("Stop.", "Okay, stop.", "Stop now.", "You can stop."),
             "heldout": ("Alright, stop.", "Stop, please.", "Stop it there.")},
    "enough": {"train": ("Enough.", "Okay, enough.", "Enough already."),
               "heldout": ("That's enough.", "Enough now.", "Alright, enough.")},
}

_TIMER = {
    "train": (
        "Tell me when {n} seconds have passed.",
        "Let me know when {n} seconds are up.",
        "Give me a shout after {n} seconds.",
        "Can you time {n} seconds for me and tell me when it's done?",
        "Start a {n} second timer and tell me when it ends.",
        "Wait {n} seconds, then tell me.",
    ),
    "heldout": (
        "Say something when {n} seconds have gone by.",
        "Alert me once {n} seconds are over.",
        "I'm holding this plank; tell me when {n} seconds are up.",
        "Time {n} seconds and call it out.",
    ),
}
# Replies to a timer; {n} is the number of seconds in words.
_TIMER_REPLIES = ("{N} seconds.", "Time's up.", "That's {n} seconds.", "Time.",
                  "Done, {n} seconds.", "{N} seconds are up.")
_TIMER_SECONDS = (3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30)

_COUNTDOWN = {
    "train": (
        "Count down from {n}.",
        "Can you count down from {n} for me?",
        "Give me a countdown from {n}, one number each second.",
        "Count down from {n} and then say {final}.",
        "Count me down from {n} to {final}.",
        "Do a countdown from {n}, and finish with {final}.",
    ),
    "heldout": (
        "Please do a countdown starting at {n}.",
        "Start at {n} and count down, one per second.",
        "Count backwards from {n}, then say {final}.",
        "From {n}, count down to {final}, please.",
    ),
}
# The final word the user may ask for, and how the model says it.
_FINALS = {"go": "Go!", "liftoff": "Liftoff!", "zero": "Zero.", "now": "Now!"}

_COUNT_UP = {
    "train": (
        "Count to {n}, one number {every}.",
        "Count up to {n}, saying one number {every}.",
        "Please count from one to {n}, {every}.",
        "Can you count to {n} for me, {every}?",
        "Count up to {n}, a number {every}.",
    ),
    "heldout": (
        "Could you count slowly to {n}, a number {every}?",
        "Go from one up to {n}, one number {every}.",
        "I'd like you to count to {n}, {every}.",
    ),
}

_ACKS = ("Okay.", "Sure.", "Will do.", "Okay, I will.", "You got it.", "Got it.")

# Someone else in the room, not talking to the model.
_DISTRACTORS = {
    "train": ("Has anyone seen my keys?", "The bus leaves at half past.",
              "I'll be there in a minute.", "Can you pass me the salt?",
              "We need more milk.", "Who left the door open?"),
    "heldout": ("Did the package arrive yet?", "I think it's going to rain.",
                "Turn the music down a bit.", "Where did I put my glasses?"),
}


# Planning -------------------------------------------------------------------

@dataclasses.dataclass
class _Plan:
  """A sub-task's timeline: user lines, target model lines, truth pieces."""
  user: list[planning.Said]
  model: list[planning.Said]
  params: dict[str, Any]
  expected: list[dict[str, Any]]
  allowances: list[tuple[int, int]]
  ack: dict[str, Any] | None = None
  stop: dict[str, Any] | None = None
  silent_after_ms: int = 0  # The end of the stop phrase (periodic).


class _Context(NamedTuple):
  rng: np.random.Generator
  split: str
  voice: cache_lib.Voice
  lead_ms: int
  n_ticks: int
  tick_ms: int


def _choose_fitting(ctx: _Context, subtask: str, n_options: int,
                    evaluate: Callable[[int], tuple[int, _T]], u: float) -> _T:
  """Picks option i uniformly (by `u`) among the options 0..m that fit the episode.

  Options are ordered so that a later one needs a longer episode; `evaluate(i)`
  gives (ticks option i needs, its plan). The last fitting option m is found by
  bisection, so few options are synthesized; if the picked one does not fit
  after all (speech durations are not exactly monotone), the closest smaller
  one that fits is used. Raises ValueError when option 0 does not fit.
  """
  memo: dict[int, tuple[int, _T]] = {}

  def fits(i: int) -> bool:
    if i not in memo:
      memo[i] = evaluate(i)
    return memo[i][0] <= ctx.n_ticks

  if not fits(0):
    raise ValueError(
        f"timespeak {subtask} episode needs at least {memo[0][0]} ticks for this draw, got "
        f"n_ticks={ctx.n_ticks} (tick_ms={ctx.tick_ms}); every draw fits in "
        f"min_ticks={min_ticks(ctx.tick_ms)}")
  lo, hi = 0, n_options - 1  # Option lo fits.
  while lo < hi:
    mid = (lo + hi + 1) // 2
    lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
  i = min(int(u * (lo + 1)), lo)
  while not fits(i):
    i -= 1
  return memo[i][1]


def _window(said: planning.Said, tolerance: int, tick_ms: int) -> tuple[int, int]:
  tick = common.tick_of(said.start_ms, tick_ms)
  return max(tick - tolerance, 1), tick + tolerance


def _ack(text: str, delay_ms: int, t0: int, tick_ms: int) -> tuple[planning.Said, tuple[int, int]]:
  """The acknowledgement heard `delay_ms` (300-600) after t0, and its window."""
  said = planning.say("model", text, common.ASSISTANT_VOICE, t0 + delay_ms)
  return said, planning.ack_window(t0, said, tick_ms)


def _plan_periodic(ctx: _Context) -> _Plan:
  rng, tick_ms = ctx.rng, ctx.tick_ms
  content, replies = common.choose(rng, _REMINDERS)
  reply_text = common.choose(rng, replies)
  template = common.phrasing(rng, ctx.split, _PERIODIC)
  stop_word = common.choose(rng, _STOP_WORDS)
  stop_text = common.phrasing(rng, ctx.split, _STOPS[stop_word])
  ack_text, ack_delay = common.choose(rng, _ACKS), int(rng.integers(300, 601))
  u_period, u_repeats, u_stop = rng.random(3)
  reply = planning.say("model", reply_text, common.ASSISTANT_VOICE, 0)
  stop = planning.say("user", stop_text, ctx.voice, 0)
  ack_end = ack_delay + planning.say("model", ack_text, common.ASSISTANT_VOICE, 0).audio_end_ms
  # A period holds a reminder, 200 ms, the stop, and 2 ticks before the next
  # reminder; the first reminder comes 300 ms after the acknowledgement.
  shortest = max(reply.end_ms + 200 + stop.end_ms + 2 * tick_ms, ack_end + 300)
  periods = [s for s in range(2, 9) if 1000 * s >= shortest]

  def evaluate(i: int) -> tuple[int, tuple[int, planning.Said]]:
    text = template.format(task=content, n=planning.number_word(periods[i]), stop=stop_word)
    request = planning.say("user", text, ctx.voice, ctx.lead_ms)
    # One reminder, the stop, and 3 ticks past where the second would be, + 1 tick.
    return -(-(request.end_ms + 2000 * periods[i] + 4 * tick_ms) // tick_ms), (periods[i], request)

  seconds, request = _choose_fitting(ctx, "periodic", len(periods), evaluate, u_period)
  period, t0 = 1000 * seconds, request.end_ms
  most = min((ctx.n_ticks * tick_ms - t0 - 4 * tick_ms) // period - 1, 6)
  fewest = min(2, most)
  repeats = fewest + min(int(u_repeats * (most - fewest + 1)), most - fewest)
  ack, ack_window = _ack(ack_text, ack_delay, t0, tick_ms)
  plan = _Plan(user=[request], model=[ack], expected=[],
               allowances=[planning.allowance(ack, ack_window, tick_ms)],
               ack=dict(planning.utterance(ack, "ack", _ACKS, ack_window, tick_ms), required=False),
               params=dict(period_s=seconds, content=content, stop_word=stop_word,
                           repeats=repeats))
  for k in range(1, repeats + 1):
    said = reply.moved(t0 + k * period)
    window = _window(said, 2, tick_ms)
    plan.model.append(said)
    plan.expected.append(planning.utterance(said, "reminder", replies, window, tick_ms))
    plan.allowances.append(planning.allowance(said, window, tick_ms))
  earliest = plan.model[-1].end_ms + 200
  latest = t0 + (repeats + 1) * period - 2 * tick_ms - stop.end_ms
  stop = stop.moved(earliest + int(u_stop * (latest - earliest + 1)))
  plan.user.append(stop)
  plan.stop = dict(text=stop_text, stop_word=stop_word,
                   **planning.span(stop.start_ms, stop.end_ms, tick_ms))
  plan.silent_after_ms = stop.end_ms
  return plan


def _plan_timer(ctx: _Context) -> _Plan:
  rng, tick_ms = ctx.rng, ctx.tick_ms
  template = common.phrasing(rng, ctx.split, _TIMER)
  reply_template = common.choose(rng, _TIMER_REPLIES)
  ack_text, ack_delay = common.choose(rng, _ACKS), int(rng.integers(300, 601))
  u_seconds = rng.random()

  def evaluate(i: int) -> tuple[int, tuple[int, planning.Said, planning.Said, tuple[int, int]]]:
    seconds = _TIMER_SECONDS[i]
    n = planning.number_word(seconds)
    request = planning.say("user", template.format(n=n), ctx.voice, ctx.lead_ms)
    reply = planning.say("model", reply_template.format(n=n, N=n.capitalize()),
                         common.ASSISTANT_VOICE, request.end_ms + 1000 * seconds)
    window = _window(reply, 2, tick_ms)
    return planning.allowance(reply, window, tick_ms)[1], (seconds, request, reply, window)

  seconds, request, reply, window = _choose_fitting(ctx, "timer", len(_TIMER_SECONDS), evaluate,
                                                    u_seconds)
  # The shortest timer (3 s) outlasts the acknowledgement (<= 600 ms + its clip) by >= 300 ms.
  ack, ack_window = _ack(ack_text, ack_delay, request.end_ms, tick_ms)
  n = planning.number_word(seconds)
  accept = [r.format(n=n, N=n) for r in _TIMER_REPLIES]
  return _Plan(user=[request], model=[ack, reply], params=dict(seconds=seconds),
               ack=dict(planning.utterance(ack, "ack", _ACKS, ack_window, tick_ms), required=False),
               expected=[planning.utterance(reply, "timer", accept, window, tick_ms)],
               allowances=[planning.allowance(ack, ack_window, tick_ms),
                           planning.allowance(reply, window, tick_ms)])


def _counting(first: int, last: int) -> list[str]:
  step = 1 if last >= first else -1
  return [planning.number_word(i).capitalize() + "." for i in range(first, last + step, step)]


def _sequence(ctx: _Context, params: dict[str, Any], request_text: str, words: Sequence[str],
              period_ms: int, delay_ms: int) -> tuple[int, _Plan]:
  """(ticks needed, plan) of a count task: `words` one per `period_ms`, within ±1 tick,
  the first `delay_ms` after the request ends."""
  request = planning.say("user", request_text, ctx.voice, ctx.lead_ms)
  said = [planning.say("model", w, common.ASSISTANT_VOICE,
                       request.end_ms + delay_ms + i * period_ms) for i, w in enumerate(words)]
  windows = [_window(s, 1, ctx.tick_ms) for s in said]
  allowances = [planning.allowance(s, w, ctx.tick_ms) for s, w in zip(said, windows)]
  plan = _Plan(user=[request], model=said, params=params, allowances=allowances,
               expected=[planning.utterance(s, "count", (), w, ctx.tick_ms)
                         for s, w in zip(said, windows)])
  return allowances[-1][1], plan


def _plan_countdown(ctx: _Context) -> _Plan:
  rng = ctx.rng
  template = common.phrasing(rng, ctx.split, _COUNTDOWN)
  final = common.choose(rng, sorted(_FINALS)) if "{final}" in template else None
  delay_ms, u = int(rng.integers(300, 701)), rng.random()

  def evaluate(i: int) -> tuple[int, _Plan]:
    start = 3 + i
    words = _counting(start, 1) + ([_FINALS[final]] if final else [])
    return _sequence(ctx, dict(start=start, final=final),
                     template.format(n=planning.number_word(start), final=final), words, 1000,
                     delay_ms)

  return _choose_fitting(ctx, "countdown", 8, evaluate, u)


def _plan_count_up(ctx: _Context) -> _Plan:
  rng = ctx.rng
  template = common.phrasing(rng, ctx.split, _COUNT_UP)
  delay_ms = int(rng.integers(300, 701))
  u_period, u_count = rng.random(2)

  def counting(seconds: int) -> Callable[[int], tuple[int, _Plan]]:
    every = "every second" if seconds == 1 else f"every {planning.number_word(seconds)} seconds"
    return lambda i: _sequence(ctx, dict(count=3 + i, period_s=seconds),
                               template.format(n=planning.number_word(3 + i), every=every),
                               _counting(1, 3 + i), 1000 * seconds, delay_ms)

  # The period (1, 2 or 3 s) among those where counting to three fits, then the count.
  seconds = _choose_fitting(ctx, "count_up", 3, lambda i: (counting(i + 1)(0)[0], i + 1), u_period)
  return _choose_fitting(ctx, "count_up", 8, counting(seconds), u_count)


_PLANNERS = {"periodic": _plan_periodic, "timer": _plan_timer, "countdown": _plan_countdown,
             "count_up": _plan_count_up}


def _add_distractor(rng: np.random.Generator, split: str, plan: _Plan,
                    n_ticks: int, tick_ms: int) -> planning.Said | None:
  """With probability 0.4, another person speaks in a quiet stretch after the request."""
  wanted = rng.random() < 0.4
  text = common.phrasing(rng, split, _DISTRACTORS)
  voice = common.user_voice(rng, split, common.OTHER_VOICES)
  u_gap, u_offset = rng.random(2)
  if not wanted:
    return None
  said = planning.say("other", text, voice, 0)
  busy = sorted([(s.start_ms, s.audio_end_ms) for s in plan.user] +
                [(a * tick_ms, b * tick_ms) for a, b in plan.allowances])
  cursor, gaps = plan.user[0].audio_end_ms, []
  for a, b in busy + [(n_ticks * tick_ms - tick_ms, math.inf)]:
    if a - cursor >= said.clip_ms + 800:
      gaps.append((cursor, a))
    cursor = max(cursor, b)
  if not gaps:
    return None
  a, b = gaps[min(int(u_gap * len(gaps)), len(gaps) - 1)]
  return said.moved(a + 400 + int(u_offset * (b - a - said.clip_ms - 800)))


def make_script(rng: np.random.Generator, split: str, n_ticks: int,
                tick_ms: int) -> episode.EpisodeScript:
  """One TimeSpeak episode (see the module docstring for what is guaranteed)."""
  common.check_split(split)
  if n_ticks < min_ticks(tick_ms):
    raise ValueError(f"timespeak needs n_ticks >= {min_ticks(tick_ms)} "
                     f"({MIN_EPISODE_MS} ms at tick_ms={tick_ms}), got n_ticks={n_ticks}")
  subtask = common.choose(rng, SUBTASKS)
  voice = common.user_voice(rng, split)
  ctx = _Context(rng, split, voice, int(rng.integers(200, 1001)), n_ticks, tick_ms)
  plan = _PLANNERS[subtask](ctx)
  distractor = _add_distractor(rng, split, plan, n_ticks, tick_ms)
  others = [distractor] if distractor else []
  heard = sorted(plan.user + others, key=lambda s: s.start_ms)
  request = plan.user[0]
  silent_from = max([plan.silent_after_ms] + [s.audio_end_ms for s in plan.model])
  truth = dict(
      family=NAME, subtask=subtask, tick_ms=tick_ms, n_ticks=n_ticks,
      request=dict(text=request.line.text,
                   **planning.span(request.start_ms, request.end_ms, tick_ms)),
      params=plan.params, ack=plan.ack, expected=plan.expected, stop=plan.stop,
      silent_after=dict(start_ms=int(silent_from),
                        start_tick=-(-int(silent_from) // tick_ms)),
      silent_spans=planning.silent_spans(plan.allowances, n_ticks, tick_ms),
      distractors=[dict(speaker="other", text=s.line.text,
                        **planning.span(s.start_ms, s.end_ms, tick_ms)) for s in others],
      lines=[planning.line_span(s, tick_ms) for s in heard],
  )
  lines = tuple(s.line for s in sorted(heard + plan.model, key=lambda s: s.start_ms))
  return episode.EpisodeScript(family=NAME, n_ticks=n_ticks, lines=lines, truth=truth)


FAMILY = common.Family(name=NAME, make_script=make_script, needs_video=False)
