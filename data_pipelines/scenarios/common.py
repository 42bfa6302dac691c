"""What every scenario family shares: splits, voices, phrasing choice, timing helpers.

Splits differ in seeds, voices and phrasings, so heldout measures
generalization: `USER_VOICES[split]` are disjoint voice pools, and each family
keeps its phrasings in a dict `{"train": (...), "heldout": (...)}` with no
phrasing in both. The model always speaks with `ASSISTANT_VOICE`.
"""

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Callable, TypeVar

import numpy as np

from data_pipelines import episode
from data_pipelines.speech_cache import Voice

SPLITS = ("train", "heldout")
_T = TypeVar("_T")

ASSISTANT_VOICE = Voice(name="en-us+m3", rate=180, pitch=45)

# espeak voice + variant names; the two pools share no voice.
USER_VOICES = {
    "train": ("en-us", "en-us+f2", "en-gb+m1", "en-gb+f4", "en-us-nyc+m4", "en-gb-scotland+f1",
              "en-029+m2", "en-gb-x-rp+f5"),
    "heldout": ("en-gb", "en-us+f1", "en-us-nyc+f3", "en-gb-x-rp+m7", "en-029+f4"),
}
# Voices for people the model should not answer (talking to someone else, background).
OTHER_VOICES = {
    "train": ("en-gb-x-gbclan+m5", "en-us+m6"),
    "heldout": ("en-gb-x-gbcwmd+m8", "en-us+f5"),
}


def check_split(split: str) -> None:
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")


def user_voice(rng: np.random.Generator, split: str, pool: Mapping[str, Sequence[str]] = USER_VOICES) -> Voice:
  """A random voice of `split`'s pool with a random rate (140–200 wpm) and pitch (35–65)."""
  check_split(split)
  return Voice(name=str(rng.choice(pool[split])), rate=int(rng.integers(140, 201)),
               pitch=int(rng.integers(35, 66)))


def choose(rng: np.random.Generator, options: Sequence[_T]) -> _T:
  """One of `options`, uniformly (keeps tuples and strings intact, unlike rng.choice)."""
  if not options:
    raise ValueError("choose needs at least one option")
  return options[int(rng.integers(len(options)))]


def phrasing(rng: np.random.Generator, split: str, phrasings: Mapping[str, Sequence[_T]]) -> _T:
  """One of the phrasings reserved for `split`."""
  check_split(split)
  return choose(rng, phrasings[split])


@dataclasses.dataclass(frozen=True)
class Family:
  """A scenario family: builds one episode script from a random generator.

  make_script(rng, split, n_ticks, tick_ms) must be deterministic in rng's
  state and must fit everything in `n_ticks` (or raise ValueError saying the
  episode is too short). `needs_video` families need a layout with video slots.
  """
  name: str
  make_script: Callable[[np.random.Generator, str, int, int], episode.EpisodeScript]
  needs_video: bool = False


def tick_of(ms: float, tick_ms: int) -> int:
  """The tick in which time `ms` falls."""
  return int(ms // tick_ms)
