"""Delegation: `<delegate>` emitted in time, and the background result's answer said in its window."""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any

from eval.metrics import aggregate
from eval.metrics import output as output_lib


@dataclasses.dataclass(frozen=True)
class DelegationResult:
  """Per delegation of one episode: delegated in time, answered correctly in time."""
  delegated: tuple[bool, ...]
  answered: tuple[bool, ...]


def delegation_score(truth: Mapping[str, Any],
                     output: output_lib.ModelOutput) -> DelegationResult:
  """Scores each of truth["delegations"].

  delegated: some `<delegate>` was emitted in a tick floor(delegate_ms /
  tick_ms) inside delegate["window_ticks"] (inclusive; emission ticks).
  answered: some model sentence heard from a tick inside answer["window_ticks"]
  (which starts after the result can have been read) contains the answer
  value as whole words: normalize(answer_value) occurs in the sentence's
  normalized text at word boundaries ("Got it, it's 31." answers "31").
  """
  tick_ms = truth["tick_ms"]
  said = output_lib.sentences(output)
  delegated, answered = [], []
  for item in truth["delegations"]:
    lo, hi = item["delegate"]["window_ticks"]
    delegated.append(any(lo <= int(ms // tick_ms) <= hi for ms in output.delegate_ms))
    lo, hi = item["answer"]["window_ticks"]
    value = f" {output_lib.normalize(item['answer_value'])} "
    answered.append(any(lo <= int(s.start_ms // tick_ms) <= hi and value in f" {s.text} "
                        for s in said))
  return DelegationResult(delegated=tuple(delegated), answered=tuple(answered))


def aggregate_delegation(results: Sequence[DelegationResult]) -> dict[str, float]:
  """{"delegate_rate", "answer_rate": means over all delegations, "episodes"}."""
  return {"delegate_rate": aggregate.mean([float(v) for r in results for v in r.delegated]),
          "answer_rate": aggregate.mean([float(v) for r in results for v in r.answered]),
          "episodes": len(results)}
