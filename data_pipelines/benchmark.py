r"""How fast the data suite makes episodes and batches (a benchmark, not a test).

  python -m data_pipelines.benchmark [--config=experiments/configs/interaction.py:tiny] \
      [--episodes=8] [--batches=4]

Prints a table: per family, episodes/s with a cold speech cache (a fresh temp
$MICROTURN_CACHE: every utterance is synthesized) and a warm one (the same
episodes again: every utterance read from disk); then batches/s and positions/s of the
full mixed pipeline with a warm cache, with the configured prefetch threads.
"""

import os
import shutil
import tempfile
import time

from absl import app
from absl import flags
from ml_collections import config_flags

from data_pipelines import pipeline
from data_pipelines import speech_cache
from data_pipelines import stream

_CONFIG = config_flags.DEFINE_config_file(
    "config", "experiments/configs/interaction.py:tiny", "Experiment config (stream + data).")
_EPISODES = flags.DEFINE_integer("episodes", 8, "Episodes per family and cache state.")
_BATCHES = flags.DEFINE_integer("batches", 4, "Batches to time through the full pipeline.")


def _episodes_per_second(family, spec, layout, cache, count) -> float:
  start = time.perf_counter()
  for index in range(count):
    pipeline.to_example(pipeline.build_episode(family, index, split="train", seed=spec.seed,
                                               n_ticks=spec.n_ticks, layout=layout, cache=cache))
  return count / (time.perf_counter() - start)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = _CONFIG.value
  layout = stream.TickLayout.from_config(config.stream)
  spec = pipeline.DataSpec.from_config(config.data)
  cache_root = tempfile.mkdtemp(prefix="microturn_bench_")
  os.environ["MICROTURN_CACHE"] = cache_root  # Planning and rendering both start cold.
  try:
    cache = speech_cache.SpeechCache()
    print(f"{spec.n_ticks} ticks x {layout.tick_len} positions per episode, "
          f"{_EPISODES.value} episodes per family and cache state")
    print(f"{'family':<14} {'cold ep/s':>10} {'warm ep/s':>10}")
    for family in spec.families:
      cold = _episodes_per_second(family, spec, layout, cache, _EPISODES.value)
      warm = _episodes_per_second(family, spec, layout, cache, _EPISODES.value)
      print(f"{family:<14} {cold:>10.2f} {warm:>10.2f}", flush=True)
    iterator = iter(pipeline.make_dataset(spec, layout))
    next(iterator)  # Starts the prefetch threads.
    start = time.perf_counter()
    for _ in range(_BATCHES.value):
      next(iterator)
    seconds = (time.perf_counter() - start) / _BATCHES.value
    positions = spec.batch_size * spec.n_ticks * layout.tick_len
    print(f"mixed pipeline: {1 / seconds:.2f} batches/s of {spec.batch_size} episodes "
          f"= {positions / seconds:,.0f} positions/s ({spec.prefetch_threads} threads)")
    iterator.close()
  finally:
    shutil.rmtree(cache_root, ignore_errors=True)


if __name__ == "__main__":
  app.run(main)
