r"""Training throughput of one config on this machine, impl="pallas" vs impl="xla" (not a test).

  python -m experiments.benchmark_train [--config=experiments/configs/interaction.py:tiny] \
      [--steps=3] [--impls=pallas,xla] [--precisions=f32,bf16]

For each impl and train precision (default: the config's `train.precision`,
so `--config.train.precision=bf16` alone times bf16): builds the train program
on the config's mesh, takes real batches from the data pipeline (fetched
before timing), compiles (first step, reported separately), then times
`--steps` steps (each blocked until done). Prints a table: compile seconds,
seconds per step and tokens/s, where a token is one position of the tick
layout (batch × n_ticks × tick_len per step).
"""

import time

from absl import app
from absl import flags
import jax
from ml_collections import config_flags

from data_pipelines import pipeline
from data_pipelines import stream
from interaction import config as model_config_lib
from interaction import sharding
from interaction.training import config as train_config_lib
from interaction.training import program as program_lib

_CONFIG = config_flags.DEFINE_config_file(
    "config", "experiments/configs/interaction.py:tiny", "Experiment config.")
_STEPS = flags.DEFINE_integer("steps", 3, "Timed steps per impl (after the compiling one).")
_IMPLS = flags.DEFINE_list("impls", list(model_config_lib.IMPLS)[::-1], "Kernel impls to compare.")
_PRECISIONS = flags.DEFINE_list(
    "precisions", None, f"Train precisions to compare, of {list(train_config_lib.PRECISIONS)} "
    "(default: the config's train.precision).")


def _time_impl(config, impl: str, precision: str, batches: list) -> dict[str, float]:
  config = config.copy_and_resolve_references()
  config.model.impl = impl
  config.train.precision = precision
  program = program_lib.build_program(config, sharding.make_mesh(config))
  state = program.state
  with program.context():
    put = lambda b: jax.device_put(b, program.batch_sharding)
    start = time.perf_counter()
    state, metrics = program.train_step(state, put(batches[0]))
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - start
    seconds = []
    for batch in batches[1:]:
      batch = jax.block_until_ready(put(batch))
      start = time.perf_counter()
      state, metrics = program.train_step(state, batch)
      jax.block_until_ready((state, metrics))
      seconds.append(time.perf_counter() - start)
  step_s = sorted(seconds)[len(seconds) // 2]  # Median.
  return {"compile_s": compile_s, "step_s": step_s, "loss": float(metrics["loss/total"])}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = _CONFIG.value
  spec = pipeline.DataSpec.from_config(config.data)
  layout = stream.TickLayout.from_config(config.stream)
  iterator = iter(pipeline.make_dataset(spec, layout))
  batches = [next(iterator) for _ in range(_STEPS.value + 1)]
  iterator.close()
  tokens = spec.batch_size * spec.n_ticks * layout.tick_len
  print(f"{config.get('variant', '?')}: batch {spec.batch_size} x {spec.n_ticks} ticks x "
        f"{layout.tick_len} positions = {tokens:,} tokens/step on "
        f"{jax.device_count()} {jax.devices()[0].platform} device(s), median of {_STEPS.value}")
  print(f"{'impl':<8} {'precision':<9} {'compile s':>10} {'step s':>9} {'tokens/s':>10}")
  for impl in _IMPLS.value:
    for precision in _PRECISIONS.value or [config.train.precision]:
      r = _time_impl(config, impl, precision, batches)
      print(f"{impl:<8} {precision:<9} {r['compile_s']:>10.1f} {r['step_s']:>9.3f} "
            f"{tokens / r['step_s']:>10,.0f}", flush=True)


if __name__ == "__main__":
  app.run(main)
