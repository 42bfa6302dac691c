"""ProactiveVideoQA: PAUC@omega of the answers given in the ground-truth reply span.

Follows the MMDuet2 RL reward (`area_under_line_ratio`, `pauc_reward_function`),
with a normalized exact-match judge instead of an LLM judge.
"""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any

from eval.metrics import aggregate
from eval.metrics import output as output_lib

OMEGA = 0.5
# MMDuet2's curve starts at start_score 0.5 on its 0-4 judge scale: 0.125 of the maximum.
NO_ANSWER_SCORE = 0.5 / 4


@dataclasses.dataclass(frozen=True)
class PaucResult:
  """One question.

  pauc: the normalized area (see `pauc`).
  replies: (seconds after the span start, judge score) of the replies scored.
  early_answer: a correct answer was heard before the answer began to show
    (`truth["no_answer_before"]`): a guess, not counted by PAUC.
  """
  pauc: float
  replies: tuple[tuple[float, float], ...]
  early_answer: bool


def step_area(points: Sequence[tuple[float, float]], length: float, omega: float = OMEGA,
              start_score: float = NO_ANSWER_SCORE) -> float:
  """The normalized area under MMDuet2's step curve.

  points are (x, y): a reply x time units after the span start with score y in
  [0, 1]. Each x is scaled by (1 - omega), so a reply at the span's end still
  earns omega of the time credit. The curve is start_score on [0, x_1), y_1 on
  [x_1, x_2), ..., and y_last up to `length`; the area is divided by
  length * 1 (the maximum score). No points: start_score.
  """
  if length <= 0:
    raise ValueError(f"a reply span must have positive length, got {length}")
  area, prev_x, prev_y = 0.0, 0.0, start_score
  for x, y in sorted(((x * (1 - omega), y) for x, y in points), key=lambda p: p[0]):
    area += (x - prev_x) * prev_y
    prev_x, prev_y = x, y
  return (area + (length - prev_x) * prev_y) / length


def pauc(truth: Mapping[str, Any], output: output_lib.ModelOutput, omega: float = OMEGA,
         start_score: float = NO_ANSWER_SCORE) -> PaucResult:
  """PAUC@omega of one question with reply span [s, e] = truth["reply_span"].

  Replies are the model's sentences (`output.sentences`) heard at s <= t <= e;
  a reply whose normalized text repeats an earlier reply's is dropped (as
  MMDuet2 drops duplicates). The judge is normalized exact match: score 1 if
  `output.normalize(reply)` is in truth["answer"]["accept"] (normalized),
  else 0 (MMDuet2's LLM judge grades 0-4; we map correct to the top, anything
  else to the bottom, so a wrong reply drops the curve below the no-answer
  score). Points are (t - s, score) for `step_area`, times in seconds.

  Edge values: a correct reply at s gives 1; at e gives
  (1 - omega) * start_score + omega (0.5625 at the defaults); no reply gives
  start_score (0.125); a wrong reply at s and nothing else gives 0.
  """
  span = truth["reply_span"]
  s, e = span["start_ms"], span["end_ms"]
  accept = {output_lib.normalize(a) for a in truth["answer"]["accept"]}
  seen, replies = set(), []
  for sentence in output_lib.sentences(output):
    if s <= sentence.start_ms <= e and sentence.text not in seen:
      seen.add(sentence.text)
      replies.append(((sentence.start_ms - s) / 1000, float(sentence.text in accept)))
  early = any(p.text in accept and p.start_ms < truth["no_answer_before"]["ms"]
              for p in output_lib.sentences(output))
  return PaucResult(pauc=step_area(replies, (e - s) / 1000, omega, start_score),
                    replies=tuple(replies), early_answer=early)


def aggregate_pauc(results: Sequence[PaucResult]) -> dict[str, float]:
  """{"pauc": mean over questions (one reply span each), "early_answer": rate, "questions"}."""
  return {"pauc": aggregate.mean([r.pauc for r in results]),
          "early_answer": aggregate.mean([float(r.early_answer) for r in results]),
          "questions": len(results)}
