"""Plays a suite in every mode, scores each run and aggregates per family.

`evaluate` returns an `Evaluation`: the `SessionRun`s of each mode, their
per-episode scores (`scoring.score_episode`) and per-family aggregates
(`scoring.aggregate_family`). `summary()` is the JSON-able dict of every number.
"""

from collections.abc import Sequence
import dataclasses
from typing import Any

from eval import episodes as episodes_lib
from eval import scoring
from eval import streaming
from eval import baseline


@dataclasses.dataclass(frozen=True)
class Evaluation:
  """runs[mode][i] is episodes[i] played in that mode; scores likewise; aggregates[mode][family]."""
  episodes: tuple[episodes_lib.EvalEpisode, ...]
  runs: dict[str, list[streaming.SessionRun]]
  scores: dict[str, list[dict[str, Any]]]
  aggregates: dict[str, dict[str, dict[str, Any]]]

  @property
  def families(self) -> list[str]:
    return [f for f in scoring.FAMILIES if any(e.family == f for e in self.episodes)]

  def summary(self) -> dict[str, Any]:
    """Every number: aggregates per mode and family, and each episode's scores and gate."""
    per_episode = []
    for i, ep in enumerate(self.episodes):
      row = {"family": ep.family, "index": ep.index, "n_ticks": ep.n_ticks}
      for mode in self.runs:
        run = self.runs[mode][i]
        row[mode] = {name: dataclasses.asdict(result)
                     for name, result in self.scores[mode][i].items()}
        row[mode]["spoken_ticks"] = int(sum(run.spoke))
        if run.gate is not None:
          row[mode]["allowed_ticks"] = int(sum(run.allow))
          row[mode]["turn_end_ticks"] = list(run.gate.turn_end_ticks())
      per_episode.append(row)
    return {"aggregates": self.aggregates, "episodes": per_episode}


def evaluate(player, episodes: Sequence[episodes_lib.EvalEpisode],
             modes: Sequence[str] = streaming.MODES,
             harness: baseline.HarnessConfig = baseline.HarnessConfig(),
             progress: bool = False) -> Evaluation:
  """Plays `episodes` through `player` in each mode (see `streaming.MODES`) and scores them."""
  runs, scores, aggregates = {}, {}, {}
  for mode in modes:
    runs[mode] = streaming.play(player, episodes, mode, harness, progress)
    scores[mode] = [scoring.score_episode(ep.truth, run.output())
                    for ep, run in zip(episodes, runs[mode])]
    aggregates[mode] = {}
    for family in dict.fromkeys(ep.family for ep in episodes):
      of_family = [s for ep, s in zip(episodes, scores[mode]) if ep.family == family]
      aggregates[mode][family] = scoring.aggregate_family(family, of_family)
  return Evaluation(episodes=tuple(episodes), runs=runs, scores=scores, aggregates=aggregates)
