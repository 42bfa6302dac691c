"""Heldout episodes as a streaming session sees them: per-tick inputs, plus what scoring needs.

`EvalEpisode.inputs[t]` is the `stream.TickInputs` of tick t exactly as the
episode was rendered (user audio dMel codes, camera frame, typed text,
background results), with `self_audio` None: in a live session the engine
feeds the model its own previous speech, so the episode's target speech never
reaches the model. The targets (text out, audio out) stay in `episode` for
plots and oracles only.

The world is scripted, not reactive: the user speaks and background results
arrive at their rendered ticks whatever the model does (a delegation's result
comes whether or not the model emitted `<delegate>`; no background model runs
in the loop), so `metrics.delegation_score` checks the `<delegate>` timing and
the spoken answer separately.
"""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any

import numpy as np

from data_pipelines import episode as episode_lib
from data_pipelines import pipeline
from data_pipelines import scenarios
from data_pipelines import speech_cache
from data_pipelines import stream


@dataclasses.dataclass(frozen=True)
class EvalEpisode:
  """One heldout episode ready to play into a session.

  family, index: which episode (`pipeline.build_episode` arguments).
  inputs: per tick, what reaches the model (self_audio always None).
  episode: the rendered episode (targets, mic and model waveforms, words).
  """
  family: str
  index: int
  inputs: tuple[stream.TickInputs, ...]
  episode: episode_lib.Episode

  @property
  def truth(self) -> Mapping[str, Any]:
    return self.episode.truth

  @property
  def n_ticks(self) -> int:
    return len(self.inputs)

  @property
  def layout(self) -> stream.TickLayout:
    return self.episode.layout

  def mic_tick(self, tick: int) -> np.ndarray:
    """float32 [samples_per_tick]: the mic samples of tick t (what the user side says)."""
    n = self.layout.samples_per_tick
    return self.episode.mic[tick * n:(tick + 1) * n]


def tick_inputs(ep: episode_lib.Episode) -> tuple[stream.TickInputs, ...]:
  """The per-tick inputs of a rendered episode, self audio removed (see the module docstring)."""
  n_ticks = ep.ticks.leading_shape[0]
  result = []
  for t in range(n_ticks):
    tick = stream.PackedTicks(**{f.name: getattr(ep.ticks, f.name)[t]
                                 for f in dataclasses.fields(stream.PackedTicks)})
    inputs, _ = ep.layout.unpack(tick)
    result.append(dataclasses.replace(inputs, self_audio=None))
  return tuple(result)


def from_episode(ep: episode_lib.Episode, index: int) -> EvalEpisode:
  return EvalEpisode(family=ep.script.family, index=index, inputs=tick_inputs(ep), episode=ep)


def heldout(families: Sequence[str], per_family: int, *, layout: stream.TickLayout, n_ticks: int,
            seed: int = 0, cache: speech_cache.SpeechCache | None = None,
            split: str = "heldout") -> list[EvalEpisode]:
  """Episodes 0 .. per_family - 1 of each family in `split`, family by family.

  Deterministic: the same arguments give the same episodes on every call and host.

  Raises:
    ValueError: no families or per_family < 1 (an empty evaluation set), an
      unknown family or split, or a layout the family cannot use.
  """
  if not families:
    raise ValueError("no scenario families to evaluate; name at least one")
  if per_family < 1:
    raise ValueError(f"episodes per family must be >= 1, got {per_family}: the {split!r} "
                     "split would be empty")
  scenarios.common.check_split(split)
  cache = cache or speech_cache.SpeechCache()
  result = []
  for family in families:
    for index in range(per_family):
      ep = pipeline.build_episode(family, index, split=split, seed=seed, n_ticks=n_ticks,
                                  layout=layout, cache=cache)
      result.append(from_episode(ep, index))
  return result
