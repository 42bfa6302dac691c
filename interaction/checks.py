"""Input validation shared by the model's entry points (ValueError naming what was expected)."""

import dataclasses

import jax
import numpy as np


def check_shape(name: str, x, expected: tuple, meaning: str) -> None:
  """Raises ValueError unless `x.shape == expected` (`meaning` names the axes)."""
  if tuple(x.shape) != tuple(expected):
    raise ValueError(f"{name} must have shape {tuple(expected)} [{meaning}], got {tuple(x.shape)}")


def check_range(name: str, x, low: int, high: int) -> None:
  """Raises ValueError if a concrete (not traced) integer `x` has values outside [low, high)."""
  if not np.issubdtype(x.dtype, np.integer):
    raise ValueError(f"{name} must be integers, got dtype {x.dtype}")
  if isinstance(x, jax.core.Tracer) or not x.size:
    return
  values = np.asarray(x)
  if values.min() < low or values.max() >= high:
    raise ValueError(f"{name} must lie in [{low}, {high}), got values in "
                     f"[{values.min()}, {values.max()}]")


def section_values(cls, config, section: str) -> dict:
  """The fields of config section `section` as a dict for dataclass `cls`; unknown names raise."""
  values = dict(config)
  unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
  if unknown:
    raise ValueError(f"unknown {section} config fields {sorted(unknown)}")
  return values
