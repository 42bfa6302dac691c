"""TimeSpeak and CueSpeak accuracy: the right words, heard inside their window.

Also applies to any family whose truth has an `expected` list with
`window_ticks` and `accept` (repcount, proactive_qa, charades), where it scores
the timing of each count, answer or start/stop word.
"""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any

from eval.metrics import aggregate
from eval.metrics import output as output_lib


@dataclasses.dataclass(frozen=True)
class TimingResult:
  """One episode's timing score.

  task: the sub-task the macro average groups by (timespeak "subtask",
    cuespeak "rule", else the family).
  hits: per expected utterance, whether it was said on time with the right words.
  offsets_ms: per hit, heard start minus the target start (None for misses).
  accuracy: hits / expected utterances (1.0 when nothing is expected).
  silent_speech_ms: ms of model speech heard inside the truth's silent spans.
  clean: accuracy is 1 and silent_speech_ms is 0.
  """
  family: str
  task: str
  hits: tuple[bool, ...]
  offsets_ms: tuple[float | None, ...]
  accuracy: float
  silent_speech_ms: float
  clean: bool


def task_of(truth: Mapping[str, Any]) -> str:
  """The sub-task an episode belongs to: timespeak subtask, cuespeak rule, or the family."""
  return str(truth.get("subtask") or truth.get("rule") or truth["family"])


def timing_accuracy(truth: Mapping[str, Any], output: output_lib.ModelOutput) -> TimingResult:
  """Scores `output` against `truth["expected"]` (TimeSpeak, CueSpeak and the video families).

  An expected utterance e is *hit* when a candidate phrase (one or more whole
  sentences of one model utterance, `output.phrases`) satisfies both:
  - content: its normalized text (`output.normalize`) equals the normalized
    form of one of e["accept"];
  - timing: its heard start tick, floor(start_ms / tick_ms), lies in
    e["window_ticks"] = [lo, hi] (inclusive; the family's documented
    tolerance: e.g. +-1 tick for countdown numbers, +-2 for reminders, cue
    onset + 1 to cue end + 3 for CueSpeak).
  Expected utterances are taken in time order; each takes the earliest
  phrase that qualifies and shares no sentence with a phrase already used, so
  one "Five." cannot answer two cues.

  The acknowledgement (`truth["ack"]`, `required` False) is not scored. Extra
  speech is not a miss, but any model speech heard inside a silent span (the
  ticks outside every allowed window, `truth["silent_spans"]`, each the
  half-open [start_ms, end_ms)) is counted in silent_speech_ms and makes the
  episode not clean. No output: accuracy 0 (if anything is expected),
  silent_speech_ms 0.
  """
  tick_ms = truth["tick_ms"]
  candidates = output_lib.phrases(output)
  used: set[tuple[int, int]] = set()  # Sentences already serving an expected utterance.
  hits, offsets = [], []
  for exp in truth["expected"]:
    accept = {output_lib.normalize(a) for a in exp["accept"]}
    lo, hi = exp["window_ticks"]
    found = None
    for i, phrase in enumerate(candidates):
      if phrase.parts & used:
        continue
      if phrase.text in accept and lo <= int(phrase.start_ms // tick_ms) <= hi:
        found = i
        break
    hits.append(found is not None)
    offsets.append(None if found is None else candidates[found].start_ms - exp["start_ms"])
    if found is not None:
      used |= candidates[found].parts
  silent = sum(output_lib.heard_ms(output, s["start_ms"], s["end_ms"])
               for s in truth.get("silent_spans", ()))
  accuracy = sum(hits) / len(hits) if hits else 1.0
  return TimingResult(family=truth["family"], task=task_of(truth), hits=tuple(hits),
                      offsets_ms=tuple(offsets), accuracy=accuracy, silent_speech_ms=silent,
                      clean=accuracy == 1.0 and silent == 0)


def aggregate_timing(results: Sequence[TimingResult]) -> dict[str, Any]:
  """Per-task means and their macro average.

  Returns {"per_task": {task: {"accuracy", "clean", "episodes"}}, "accuracy":
  the macro average of the per-task mean accuracies, "clean": the same for the
  clean rate, "episodes": the number of results}. Empty input gives NaN
  averages.
  """
  by_task: dict[str, list[TimingResult]] = {}
  for r in results:
    by_task.setdefault(r.task, []).append(r)
  per_task = {task: {"accuracy": aggregate.mean([r.accuracy for r in rs]),
                     "clean": aggregate.mean([float(r.clean) for r in rs]),
                     "episodes": len(rs)}
              for task, rs in sorted(by_task.items())}
  return {"per_task": per_task,
          "accuracy": aggregate.mean([v["accuracy"] for v in per_task.values()]),
          "clean": aggregate.mean([v["clean"] for v in per_task.values()]),
          "episodes": len(results)}
