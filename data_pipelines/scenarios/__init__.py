"""Scenario families: time-aligned synthetic episodes for the skills we train and measure.

`FAMILIES` maps each family's name to its `common.Family`; each family lives in
its own module (listed in `_FAMILY_MODULES`), defines `FAMILY`, and documents
the ground truth (`EpisodeScript.truth`) it writes.
"""

import importlib

from data_pipelines.scenarios import common
from data_pipelines.scenarios.common import Family

_FAMILY_MODULES = ("timespeak", "cuespeak", "turntaking", "delegation", "repcount",
                   "proactive_qa", "charades")

FAMILIES: dict[str, Family] = {}
for _module in _FAMILY_MODULES:
  _family = importlib.import_module(f"data_pipelines.scenarios.{_module}").FAMILY
  FAMILIES[_family.name] = _family


def get(name: str) -> Family:
  """The family called `name`; a ValueError listing the known ones otherwise."""
  if name not in FAMILIES:
    raise ValueError(f"unknown scenario family {name!r}; expected one of {sorted(FAMILIES)}")
  return FAMILIES[name]
