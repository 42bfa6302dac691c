r"""Benchmark of streaming sessions: tick latency, append vs re-prefill, KV memory.

  python -m interaction.benchmark_sessions --config=experiments/configs/interaction.py:tiny

Prints a markdown table with, for the config's model (random init; speed does
not depend on the weights):
* per-tick step latency p50/p99 over a `--seconds` session (default 60 s) at
  batch 1 and batch `--batch` (every session slot busy), after one warm-up tick;
* at 10, 30 and 60 s of session: the time of one tick by append (the compiled
  tick step against the KV cache) vs re-prefilling the whole history (the
  training forward over all ticks so far, which is what a cache-less server
  would recompute to produce that tick), and their ratio;
* KV-cache memory per session-minute.
A benchmark, not a test: figures depend on the machine and its load.
"""

import time

from absl import app
from absl import flags
from flax import nnx
import jax
import numpy as np
from ml_collections import config_flags
import tqdm

from data_pipelines import stream
from interaction import model as model_lib
from interaction import sampler as sampler_lib
from interaction import sessions

_CONFIG = config_flags.DEFINE_config_file(
    "config", "experiments/configs/interaction.py:tiny", "Experiment config (variant after ':').")
_SECONDS = flags.DEFINE_integer("seconds", 60, "Session length for the latency figures.")
_BATCH = flags.DEFINE_integer("batch", 8, "Sessions per step for the batched latency figures.")
_FLOW_STEPS = flags.DEFINE_integer("flow_steps", 4, "Euler steps of the flow head.")
_CHECKPOINTS_S = (10, 30, 60)


def _tick_inputs(layout: stream.TickLayout, rng: np.random.Generator) -> stream.TickInputs:
  codes = rng.integers(0, 16, (layout.frames_per_tick, layout.mel.n_mels), dtype=np.int32)
  frame = None
  if layout.n_video_tokens:
    frame = rng.integers(0, 256, (layout.video_height, layout.video_width, 3), dtype=np.uint8)
  return stream.TickInputs(user_audio=codes, video=frame)


def tick_latencies(model, n_ticks: int, batch: int, flow_steps: int,
                   desc: str) -> tuple[np.ndarray, list[sessions.FinishedSession]]:
  """Seconds per batched tick for `batch` sessions run for `n_ticks` ticks (first tick excluded)."""
  engine = sessions.SessionEngine(model, max_sessions=batch, max_ticks=n_ticks,
                                  flow_steps=flow_steps)
  ids = [engine.open(sampler_lib.SamplerConfig(seed=i, temperature=1.0)) for i in range(batch)]
  rng = np.random.default_rng(0)
  times = []
  for _ in tqdm.trange(n_ticks, desc=desc, leave=False):
    requests = {sid: _tick_inputs(model.layout, rng) for sid in ids}
    start = time.perf_counter()
    engine.step(requests)
    times.append(time.perf_counter() - start)
  return np.asarray(times[1:]), [engine.close(sid) for sid in ids]


def reprefill_seconds(model, record: sessions.FinishedSession, n_ticks: int,
                      repeats: int = 2) -> float:
  """Best-of-`repeats` time of the forward over the first `n_ticks` ticks of a session."""
  example = {k: v[None] for k, v in record.example.items()}
  n_pos = n_ticks * model.layout.tick_len
  per_position = ("tokens", "present", "text_targets", "text_loss_mask", "flow_loss_mask")
  n_audio, n_video = model.layout.n_audio_tokens, model.layout.n_video_tokens
  cut = {"user_audio": n_ticks * n_audio, "self_audio": n_ticks * n_audio,
         "audio_out": n_ticks * n_audio, "video": n_ticks * n_video}
  batch = {k: (v[:, :n_pos] if k in per_position else v[:, :cut[k]]) for k, v in example.items()}
  forward = nnx.jit(lambda m, b: m.hidden(b)[0])
  jax.block_until_ready(forward(model, batch))
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(forward(model, batch))
    best = min(best, time.perf_counter() - start)
  return best


def kv_bytes_per_minute(model) -> int:
  """Bytes of float32 keys and values one session holds per minute of stream."""
  cfg, layout = model.cfg, model.layout
  positions = 60_000 // layout.tick_ms * layout.tick_len
  return 2 * cfg.n_layers * positions * cfg.n_kv_heads * cfg.head_dim * 4


def run(config, seconds: int, batch: int, flow_steps: int) -> str:
  """Runs the benchmark; returns the markdown table."""
  model = model_lib.InteractionModel.from_config(config)
  layout, cfg = model.layout, model.cfg
  n_ticks = seconds * 1000 // layout.tick_ms
  device = jax.devices()[0].device_kind
  lines = [f"`{config.variant}` (impl={cfg.impl}, {cfg.n_layers} layers, d_model {cfg.d_model}, "
           f"{layout.tick_len} positions/tick, flow steps {flow_steps}) on {device}, "
           f"{seconds} s sessions", "",
           "| measure | value |", "|---|---|"]
  times_by_batch, records = {}, None
  for b in (1, batch):
    times, recs = tick_latencies(model, n_ticks, b, flow_steps, f"{seconds} s at batch {b}")
    times_by_batch[b], records = times, records or recs
    p50, p99 = np.percentile(times * 1e3, [50, 99])
    lines.append(f"| tick step, batch {b}: p50 / p99 | {p50:.1f} ms / {p99:.1f} ms "
                 f"(budget 200 ms) |")
  step_times = times_by_batch[1]  # step_times[i] is tick i + 1.
  for s in _CHECKPOINTS_S:
    t = s * 1000 // layout.tick_ms
    if t > n_ticks:
      continue
    append = float(np.median(step_times[max(0, t - 6):t - 1]))
    prefill = reprefill_seconds(model, records[0], t)
    lines.append(f"| at {s} s ({t} ticks): append / re-prefill | {append * 1e3:.1f} ms / "
                 f"{prefill * 1e3:.1f} ms = {prefill / append:.1f}x |")
  lines.append(f"| KV cache per session-minute | {kv_bytes_per_minute(model) / 2**20:.2f} MiB |")
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  print(run(_CONFIG.value, _SECONDS.value, _BATCH.value, _FLOW_STEPS.value))


if __name__ == "__main__":
  app.run(main)
