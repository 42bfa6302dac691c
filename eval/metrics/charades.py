"""Charades-STA style temporal grounding: IoU per query, mIoU and R@{0.3, 0.5, 0.7}."""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any

from eval.metrics import aggregate
from eval.metrics import output as output_lib

THRESHOLDS = (0.3, 0.5, 0.7)


@dataclasses.dataclass(frozen=True)
class GroundingResult:
  """One query: the predicted span (None if either word is missing) and its IoU."""
  predicted: tuple[float, float] | None
  event: tuple[float, float]
  iou: float


def temporal_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
  """max(min(e1, e2) - max(s1, s2), 0) / (max(e1, e2) - min(s1, s2)), as lmms-eval.

  Spans are continuous [start, end] in ms (no +1 for discrete frames); an
  empty union (two equal points) gives 0.
  """
  inter = max(min(a[1], b[1]) - max(a[0], b[0]), 0.0)
  union = max(a[1], b[1]) - min(a[0], b[0])
  return inter / union if union > 0 else 0.0


def charades_score(truth: Mapping[str, Any], output: output_lib.ModelOutput) -> GroundingResult:
  """The IoU of [start word heard, stop word heard] with the event [start_ms, end_ms].

  The start word is the first sentence of the model whose normalized text is
  in the start word's `accept` list; the stop word is the first such sentence
  for the stop word heard after it. Missing either word (no output, a wrong
  word, a stop without a start) gives IoU 0, like lmms-eval's unparsable
  predictions. The prediction is heard times, so a causal model that reacts
  one tick after each frame loses a little IoU (about two ticks of 200 ms on
  events of 2-5 s); the start/stop timing windows are scored by
  `timing.timing_accuracy`.
  """
  by_cue = {e["cue"]: {output_lib.normalize(a) for a in e["accept"]} for e in truth["expected"]}
  said = output_lib.sentences(output)
  start = next((s.start_ms for s in said if s.text in by_cue["start"]), None)
  stop = None
  if start is not None:
    stop = next((s.start_ms for s in said if s.text in by_cue["stop"] and s.start_ms > start), None)
  event = (float(truth["event"]["start_ms"]), float(truth["event"]["end_ms"]))
  if stop is None:
    return GroundingResult(predicted=None, event=event, iou=0.0)
  return GroundingResult(predicted=(start, stop), event=event,
                         iou=temporal_iou((start, stop), event))


def aggregate_charades(results: Sequence[GroundingResult]) -> dict[str, float]:
  """{"miou": 100 * mean IoU, "r@0.3"/"r@0.5"/"r@0.7": % of queries with IoU >= t, "queries"}."""
  ious = [r.iou for r in results]
  summary = {"miou": 100 * aggregate.mean(ious), "queries": len(results)}
  for t in THRESHOLDS:
    summary[f"r@{t}"] = 100 * aggregate.mean([float(i >= t) for i in ious])
  return summary
