"""grain pipelines of rendered episodes: deterministic, mixed, sharded, checkpointable.

An episode is a pure function of (seed, split, family, index): its script comes
from `np.random.default_rng([seed, split id, crc32(family), index])`, so any process can
build any episode and the train and heldout splits never share a generator
stream (nor voices or phrasings, which the families keep apart).

`make_dataset` gives a grain `IterDataset` of batches:
  MapDataset.range(episodes_per_epoch) → (family, index) by `mixing_schedule`
  → rendered examples → shuffle (a new permutation every epoch) → repeat
  → shard by process
  → batch → iterate with thread prefetch.
Its iterator's `get_state()`/`set_state()` resume at exactly the next batch;
save it next to the model with `grain.checkpoint.CheckpointSave` under orbax.

Every example has the fixed length [n_ticks × tick_len]; see `to_example`.
"""

from collections.abc import Mapping
import dataclasses
import functools
import zlib

import grain
import numpy as np

from data_pipelines import episode as episode_lib
from data_pipelines import scenarios
from data_pipelines import speech_cache
from data_pipelines import stream
from data_pipelines import text
from data_pipelines.stream import Slot



@dataclasses.dataclass(frozen=True)
class DataSpec:
  """What to generate: the `data` section of an experiment config.

  families: family name → mixing weight (weights need not sum to 1).
  n_ticks: ticks per episode (every example has n_ticks × tick_len positions).
  Synthesized speech is cached in `speech_cache.default_directory()`
  ($MICROTURN_CACHE/speech), shared by the families' planning and rendering.
  episodes_per_epoch: episodes in one epoch, all families together.
  """
  families: Mapping[str, float]
  n_ticks: int
  batch_size: int
  episodes_per_epoch: int = 1000
  seed: int = 0
  prefetch_threads: int = 2

  def __post_init__(self):
    if not self.families:
      raise ValueError("data.families is empty; name at least one scenario family with a weight")
    for name, weight in self.families.items():
      scenarios.get(name)  # Unknown names raise, listing the known ones.
      if not weight >= 0:
        raise ValueError(f"family {name!r} has weight {weight}; weights must be >= 0")
    if sum(self.families.values()) <= 0:
      raise ValueError(f"family weights {dict(self.families)} must sum to a positive number")
    for field in ("n_ticks", "batch_size", "episodes_per_epoch"):
      if getattr(self, field) < 1:
        raise ValueError(f"data.{field} must be >= 1, got {getattr(self, field)}")

  @classmethod
  def from_config(cls, config) -> "DataSpec":
    values = dict(config)
    values["families"] = dict(values["families"])
    return cls(**values)


def episode_rng(seed: int, split: str, family: str, index: int) -> np.random.Generator:
  """The generator an episode's script is drawn from."""
  scenarios.common.check_split(split)
  family_id = zlib.crc32(scenarios.get(family).name.encode("utf-8"))  # stable across registries
  return np.random.default_rng([seed, scenarios.common.SPLITS.index(split), family_id, index])


def build_episode(family: str, index: int, *, split: str, seed: int, n_ticks: int,
                  layout: stream.TickLayout, cache: speech_cache.SpeechCache) -> episode_lib.Episode:
  """Episode `index` of `family` in `split`: the same bits on every call and host."""
  chosen = scenarios.get(family)
  if chosen.needs_video and not layout.n_video_tokens:
    raise ValueError(f"family {family!r} needs video slots; the layout has none "
                     "(set stream.video_height and stream.video_width)")
  script = chosen.make_script(episode_rng(seed, split, family, index), split, n_ticks,
                              layout.tick_ms)
  if script.n_ticks != n_ticks:
    raise ValueError(f"family {family!r} made {script.n_ticks} ticks, expected {n_ticks}")
  return episode_lib.render(script, layout, cache)


def to_example(ep: episode_lib.Episode) -> dict[str, np.ndarray]:
  """A fixed-length training example of a rendered episode; see `ticks_to_example`."""
  return ticks_to_example(ep.layout, ep.ticks)


def ticks_to_example(layout: stream.TickLayout, ticks: stream.PackedTicks) -> dict[str, np.ndarray]:
  """Packed ticks (leading shape [n_ticks]) → a training example; L = n_ticks × tick_len.

  tokens          int32 [L]   input token at every position (<pad> where the
                              slot is audio or video)
  present         bool  [L]   the position carries content
  text_targets    int32 [L]   the token the model must emit at text-out
                              positions (words, <silence>, <pad>, <delegate>),
                              <pad> elsewhere
  text_loss_mask  bool  [L]   text-out positions: every one is a decision
  flow_loss_mask  bool  [L]   audio-out positions where the model speaks
  user_audio, self_audio  int32  [n_ticks × n_audio_tokens, frames_per_token, n_mels]
  video                   uint8  [n_ticks × n_video_tokens, 40, 40, 3]
  audio_out               float32 [n_ticks × n_audio_tokens, frames_per_token, n_mels]

  A finished streaming session's ticks give the example the trainer scores it on.
  """
  if len(ticks.leading_shape) != 1:
    raise ValueError(f"expected ticks with leading shape [n_ticks], got {ticks.leading_shape}")
  n_ticks = ticks.leading_shape[0]
  kinds = layout.episode_slot_kinds(n_ticks)
  tokens = ticks.flat_tokens()
  present = ticks.present.reshape(-1)
  text_out = kinds == Slot.TEXT_OUT
  merge = lambda a: a.reshape(-1, *a.shape[2:])  # [n_ticks, k, ...] → [n_ticks * k, ...]
  return {
      "tokens": tokens,
      "present": present,
      "text_targets": np.where(text_out, tokens, text.PAD).astype(np.int32),
      "text_loss_mask": text_out,
      "flow_loss_mask": (kinds == Slot.AUDIO_OUT) & present,
      "user_audio": merge(ticks.user_audio),
      "self_audio": merge(ticks.self_audio),
      "video": merge(ticks.video),
      "audio_out": merge(ticks.audio_out),
  }


def mixing_schedule(weights: Mapping[str, float], length: int) -> list[tuple[str, int]]:
  """(family, index within family) for each of `length` slots, a fixed interleave.

  Each slot goes to the family furthest behind its share (weight / total) of
  the slots so far, ties to the first listed, so every prefix of the schedule
  is as close to the weights as whole episodes allow.
  """
  names = [name for name, weight in weights.items() if weight > 0]
  total = sum(weights[n] for n in names)
  counts = dict.fromkeys(names, 0)
  schedule = []
  for slot in range(length):
    chosen = max(names, key=lambda n: weights[n] / total * (slot + 1) - counts[n])
    schedule.append((chosen, counts[chosen]))
    counts[chosen] += 1
  return schedule


def make_dataset(spec: DataSpec, layout: stream.TickLayout, split: str = "train", *,
                 num_epochs: int | None = None, process_index: int = 0,
                 process_count: int = 1) -> grain.IterDataset:
  """Batches of examples (dicts of `[batch_size, ...]` arrays) for one process.

  num_epochs=None repeats forever. Processes get disjoint, interleaved shards
  (element i goes to process i % process_count) of the same global order.
  """
  scenarios.common.check_split(split)
  if not 0 <= process_index < process_count:
    raise ValueError(f"process_index {process_index} is not in [0, {process_count})")
  schedule = mixing_schedule(spec.families, spec.episodes_per_epoch)
  build = functools.partial(build_episode, split=split, seed=spec.seed, n_ticks=spec.n_ticks,
                            layout=layout, cache=speech_cache.SpeechCache())
  epoch = grain.MapDataset.range(spec.episodes_per_epoch).map(
      lambda slot: to_example(build(*schedule[slot])))
  shuffled = epoch.seed(spec.seed).shuffle().repeat(num_epochs)
  sharded = shuffled[process_index::process_count]
  batched = sharded.batch(spec.batch_size, drop_remainder=True)
  return batched.to_iter_dataset(grain.ReadOptions(num_threads=spec.prefetch_threads,
                                                   prefetch_buffer_size=2 * spec.batch_size))
