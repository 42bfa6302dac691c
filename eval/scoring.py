"""Which metrics score which family, per episode and aggregated, and each family's headline.

Per episode (`score_episode`), by the truth's family:
  timespeak, cuespeak: "timing" (`metrics.timing_accuracy`).
  repcount: "count" (`repcount_score`) and "timing" (of each count).
  proactive_qa: "pauc" (`pauc`) and "timing" (of the answer).
  charades: "grounding" (`charades_score`) and "timing" (of start / stop).
  turntaking: "turntaking" (`turntaking_score`).
  delegation: "delegation" (`delegation_score`).
`aggregate_family` averages them with the metrics' own aggregates; its
"headline" is the one number per family the report's table leads with (in %,
as the seeds report them), and for turntaking also the response latency.
"""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any

from eval import metrics

FAMILIES = ("timespeak", "cuespeak", "repcount", "proactive_qa", "charades", "turntaking",
            "delegation")
_TIMED = ("timespeak", "cuespeak", "repcount", "proactive_qa", "charades")


@dataclasses.dataclass(frozen=True)
class Headline:
  """A family's leading number: a path into its aggregate, a label, a scale to the shown unit."""
  path: tuple[str, ...]
  label: str
  scale: float = 100.0
  unit: str = "%"
  higher_is_better: bool = True


HEADLINES: dict[str, tuple[Headline, ...]] = {
    "timespeak": (Headline(("accuracy",), "macro accuracy"),),
    "cuespeak": (Headline(("accuracy",), "macro accuracy"),),
    "repcount": (Headline(("obo",), "off-by-one accuracy"),),
    "proactive_qa": (Headline(("pauc",), "PAUC@0.5"),),
    "charades": (Headline(("miou",), "mIoU", scale=1.0),),
    "turntaking": (Headline(("turn_over_rate",), "turn-over rate"),
                   Headline(("response_latency_ms",), "response latency", scale=0.001,
                            unit="s", higher_is_better=False),
                   Headline(("pause_turn_over_rate",), "takes the turn in a pause",
                            higher_is_better=False)),
    "delegation": (Headline(("answer_rate",), "answered in time"),),
}


def score_episode(truth: Mapping[str, Any], output: metrics.ModelOutput) -> dict[str, Any]:
  """The per-episode results of every metric that applies to the truth's family."""
  family = truth["family"]
  if family not in FAMILIES:
    raise ValueError(f"no metrics for family {family!r}; expected one of {FAMILIES}")
  scores: dict[str, Any] = {}
  if family in _TIMED:
    scores["timing"] = metrics.timing_accuracy(truth, output)
  if family == "repcount":
    scores["count"] = metrics.repcount_score(truth, output)
  elif family == "proactive_qa":
    scores["pauc"] = metrics.pauc(truth, output)
  elif family == "charades":
    scores["grounding"] = metrics.charades_score(truth, output)
  elif family == "turntaking":
    scores["turntaking"] = metrics.turntaking_score(truth, output)
  elif family == "delegation":
    scores["delegation"] = metrics.delegation_score(truth, output)
  return scores


def aggregate_family(family: str, scores: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
  """The family's aggregate numbers over its episodes' `score_episode` results."""
  if family not in FAMILIES:
    raise ValueError(f"no metrics for family {family!r}; expected one of {FAMILIES}")

  def of(name):
    return [s[name] for s in scores]

  if family in ("timespeak", "cuespeak"):
    return metrics.aggregate_timing(of("timing"))
  if family == "repcount":
    return {**metrics.aggregate_repcount(of("count")), "timing": metrics.aggregate_timing(
        of("timing"))}
  if family == "proactive_qa":
    return {**metrics.aggregate_pauc(of("pauc")), "timing": metrics.aggregate_timing(
        of("timing"))}
  if family == "charades":
    return {**metrics.aggregate_charades(of("grounding")), "timing": metrics.aggregate_timing(
        of("timing"))}
  if family == "turntaking":
    return metrics.aggregate_turntaking(of("turntaking"))
  return metrics.aggregate_delegation(of("delegation"))


def headline_values(family: str, aggregate: Mapping[str, Any]) -> list[tuple[Headline, float]]:
  """(headline, value in its unit) for each of the family's headlines."""
  values = []
  for h in HEADLINES[family]:
    value: Any = aggregate
    for key in h.path:
      value = value[key]
    values.append((h, float(value) * h.scale))
  return values
