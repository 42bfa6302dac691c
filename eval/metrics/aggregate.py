"""Averages over episodes."""

from collections.abc import Iterable
import math


def mean(values: Iterable[float | None]) -> float:
  """The mean of the values that are not None; NaN when there are none."""
  kept = [float(v) for v in values if v is not None]
  return math.fsum(kept) / len(kept) if kept else math.nan
