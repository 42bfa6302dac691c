"""RepCount: off-by-one accuracy and normalized MAE of the final count (TransRAC)."""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any

from eval.metrics import aggregate
from eval.metrics import output as output_lib

_NUMBERS = {w: n for n, w in enumerate(output_lib.NUMBER_WORDS)}


@dataclasses.dataclass(frozen=True)
class CountResult:
  """One episode: predicted and true count, OBO hit, normalized absolute error."""
  predicted: int
  count: int
  obo: bool
  mae: float


def predicted_count(output: output_lib.ModelOutput) -> int:
  """The count the model ends on: the last number heard in its speech, else 0.

  A number is a normalized word "zero" .. "twenty" or a run of digits (so "7",
  "Seven." and "that's seven" all read 7); other words are ignored.
  """
  value = 0
  for word in output_lib.normalize(" ".join(w.text for w in output.words)).split():
    if word in _NUMBERS:
      value = _NUMBERS[word]
    elif word.isdigit():
      value = int(word)
  return value


def repcount_score(truth: Mapping[str, Any], output: output_lib.ModelOutput) -> CountResult:
  """OBO = |p - count| <= 1; MAE = |p - count| / (count + 0.1), p = `predicted_count`.

  As TransRAC's `test_looping.py`: OBO counts every error of at most one (not
  only errors of exactly one), and MAE is normalized by the true count. The
  timing of each count is scored separately by `timing.timing_accuracy`.
  No output predicts 0.
  """
  p, gt = predicted_count(output), int(truth["count"])
  return CountResult(predicted=p, count=gt, obo=abs(p - gt) <= 1, mae=abs(p - gt) / (gt + 0.1))


def aggregate_repcount(results: Sequence[CountResult]) -> dict[str, float]:
  """{"obo": fraction of episodes with an OBO hit, "mae": mean normalized error, "episodes"}."""
  return {"obo": aggregate.mean([float(r.obo) for r in results]),
          "mae": aggregate.mean([r.mae for r in results]), "episodes": len(results)}
