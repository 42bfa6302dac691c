"""Turn-taking as Full-Duplex-Bench (v1 / v1.5) measures it, on our turntaking truth.

Every event counts once. (FD-bench's user-interruption script appends each
judge score twice; that does not change its mean, and we do not replicate it.)
"""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any

from eval.metrics import aggregate
from eval.metrics import output as output_lib

TURN_MIN_MS = 1000  # FD-bench: a response shorter than this ...
TURN_MAX_WORDS = 3  # ... with at most this many words does not take the turn.
KEEP_TALKING_MS = 1000  # The model must be heard within this long after a backchannel ends.


def takes_turn(words: Sequence[output_lib.Word]) -> bool:
  """FD-bench's rule: no words -> False; else False only if the span from the first
  word's start to the last word's end is under 1 s *and* there are <= 3 words."""
  if not words:
    return False
  return not (words[-1].end_ms - words[0].start_ms < TURN_MIN_MS and len(words) <= TURN_MAX_WORDS)


@dataclasses.dataclass(frozen=True)
class TurnTakingResult:
  """One episode's turn-taking events (lists hold one entry per event).

  kind: the episode's `truth["kind"]`.
  turn_over: per user turn that expects a response, whether the model took the turn.
  response_latency_ms: per such turn where it did, first word heard - turn end, >= 0.
  pause_turn_over: per pause inside a user turn, whether the model took the turn in it.
  ignore_turn_over: per stretch of side talk / background speech, the same.
  yield_latency_ms: per interruption, how long the model was heard after it began.
  yielded: per interruption, the model was silent from the yield deadline to its end.
  kept_talking: per backchannel / background speech during the model's
    answer, the model was heard within KEEP_TALKING_MS after it ended.
  """
  kind: str
  turn_over: tuple[bool, ...]
  response_latency_ms: tuple[float, ...]
  pause_turn_over: tuple[bool, ...]
  ignore_turn_over: tuple[bool, ...]
  yield_latency_ms: tuple[float, ...]
  yielded: tuple[bool, ...]
  kept_talking: tuple[bool, ...]


def turntaking_score(truth: Mapping[str, Any], output: output_lib.ModelOutput) -> TurnTakingResult:
  """Scores one turntaking episode.

  Response to a user turn U (any role, with `response` not None; U.end_ms is
  its turn end): the model utterances that overlap [U.end_ms, next), next =
  the start of the following user turn or the episode end, and of them the
  words that start before next. turn_over = `takes_turn(those words)`. When it
  is True, response latency = first of those words' start - U.end_ms, clipped
  at 0 (an answer begun before the turn ended, i.e. talking over the user,
  has latency 0), as FD-bench computes latency only when TOR = 1.

  Pause handling / ignoring side talk: for each silent span with reason
  "pause" (resp. "side_talk" / "background"), `takes_turn` of the words whose
  heard start lies in [start_ms, end_ms] (lower is better).

  Interruption I (user speech over the model's answer): yield latency = the
  last moment the model is heard in [I.start_ms, I.end_ms), minus I.start_ms
  (0 if it is not heard at all: FD-bench v1.5's stop latency, the overlap of
  the two speakers); yielded = nothing heard in [yield_deadline_ms, I.end_ms).

  Keep-talking span K (a backchannel, or background speech the model should
  talk through): kept_talking = the model is heard somewhere in
  [K.end_ms, K.end_ms + KEEP_TALKING_MS).

  No output: every turn_over False (no latencies), pause / ignore turn-over
  False, yield latency 0 and yielded True, kept_talking False.
  """
  end_of_episode = truth["n_ticks"] * truth["tick_ms"]
  turns = sorted(truth["user_turns"], key=lambda u: u["start_ms"])
  turn_over, latency = [], []
  for i, turn in enumerate(turns):
    if turn.get("response") is None:
      continue
    nxt = turns[i + 1]["start_ms"] if i + 1 < len(turns) else end_of_episode
    words = [w for u in output.utterances if u.end_ms > turn["end_ms"] and u.start_ms < nxt
             for w in u.words if w.start_ms < nxt]
    took = takes_turn(words)
    turn_over.append(took)
    if took:
      latency.append(max(0.0, words[0].start_ms - turn["end_ms"]))

  def span_turn_over(reasons):
    return tuple(takes_turn([w for w in output.words if s["start_ms"] <= w.start_ms <= s["end_ms"]])
                 for s in truth["silent_spans"] if s["reason"] in reasons)

  yield_latency, yielded = [], []
  for cut in truth["interruptions"]:
    ends = [min(u.end_ms, cut["end_ms"]) for u in output.utterances
            if u.end_ms > cut["start_ms"] and u.start_ms < cut["end_ms"]]
    yield_latency.append(max(ends) - cut["start_ms"] if ends else 0.0)
    yielded.append(output_lib.heard_ms(output, cut["yield_deadline_ms"], cut["end_ms"]) == 0)
  kept = tuple(output_lib.heard_ms(output, k["end_ms"], k["end_ms"] + KEEP_TALKING_MS) > 0
               for k in truth["keep_talking_spans"])
  return TurnTakingResult(
      kind=truth["kind"], turn_over=tuple(turn_over), response_latency_ms=tuple(latency),
      pause_turn_over=span_turn_over({"pause"}),
      ignore_turn_over=span_turn_over({"side_talk", "background"}),
      yield_latency_ms=tuple(yield_latency), yielded=tuple(yielded), kept_talking=kept)


def aggregate_turntaking(results: Sequence[TurnTakingResult]) -> dict[str, float]:
  """Means over all events of all episodes (NaN where there are no events).

  Keys: "turn_over_rate" (higher is better), "response_latency_ms",
  "pause_turn_over_rate" and "ignore_turn_over_rate" (lower is better),
  "yield_latency_ms", "yield_rate", "keep_talking_rate", "episodes".
  """
  def pooled(field):
    return aggregate.mean([float(v) for r in results for v in getattr(r, field)])

  return {"turn_over_rate": pooled("turn_over"),
          "response_latency_ms": pooled("response_latency_ms"),
          "pause_turn_over_rate": pooled("pause_turn_over"),
          "ignore_turn_over_rate": pooled("ignore_turn_over"),
          "yield_latency_ms": pooled("yield_latency_ms"),
          "yield_rate": pooled("yielded"),
          "keep_talking_rate": pooled("kept_talking"),
          "episodes": len(results)}
