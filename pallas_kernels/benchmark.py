"""Times impl="pallas" against XLA per op and shape, in the same run.

  python -m pallas_kernels.benchmark              # sizes picked by device
  python -m pallas_kernels.benchmark --size=small # CPU: interpret mode, < 1 min

Prints one Markdown row per op and shape: both times, their ratio and, for the
Pallas kernel, achieved TFLOP/s (compute-bound ops) or GB/s (memory-bound
ops), with % of the device's peak on a known GPU and % of the copy bandwidth
measured in the same run. The XLA baseline is `impl="xla"`, except for
prefill attention, where it is `jax.nn.dot_product_attention` (causal).

Goals on H100/H200 (not yet measured: no GPU was available when this was
written): invariant matmul >= 0.9x XLA throughput at training shapes; RMSNorm
and decode attention >= 80% of the measured copy bandwidth; prefill attention
within 1.5x of `jax.nn.dot_product_attention`. On CPU the Pallas kernels run in
interpret mode, so their times say nothing about hardware performance.
"""

import dataclasses
import statistics
import time
from typing import Callable

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

import pallas_kernels as pk

_SIZE = flags.DEFINE_enum("size", "auto", ["auto", "small", "large"],
                          "Problem sizes; auto: small on CPU, large on accelerators.")
_ITERS = flags.DEFINE_integer("iters", 5, "Timed calls per measurement (median).")

# Dense peaks per device kind: (bf16 TFLOP/s, f32 TFLOP/s without TF32, HBM TB/s).
_PEAKS = {"H100": (989.0, 67.0, 3.35), "H200": (989.0, 67.0, 4.8)}


@dataclasses.dataclass(frozen=True)
class Case:
  op: str
  shape: str
  args: tuple
  pallas: Callable
  xla: Callable
  flops: float  # of the useful math, for TFLOP/s
  bytes: float  # minimum HBM traffic, for GB/s
  memory_bound: bool


def _sizes(size: str) -> dict:
  if size == "small":
    return dict(m=256, k=256, n=512, dec=8, vocab=384, b=1, t=128, hq=4, hkv=2, d=64,
                dec_b=4, cap=256, dtype=jnp.float32)
  return dict(m=8192, k=2048, n=5632, dec=64, vocab=384, b=4, t=2048, hq=16, hkv=4, d=128,
              dec_b=64, cap=4096, dtype=jnp.bfloat16)


def _cases(z: dict) -> list[Case]:
  dt, item = z["dtype"], jnp.dtype(z["dtype"]).itemsize
  rnd = lambda i, shape: jax.random.normal(jax.random.key(i), shape, jnp.float32).astype(dt)
  cases = []
  w = rnd(1, (z["k"], z["n"]))
  for label, m in (("train", z["m"]), ("decode", z["dec"])):
    x = rnd(0, (m, z["k"]))
    cases.append(Case(
        "matmul", f"{label} {m}x{z['k']}x{z['n']}", (x, w),
        lambda x, w: pk.matmul(x, w, impl="pallas"), lambda x, w: pk.matmul(x, w, impl="xla"),
        2.0 * m * z["k"] * z["n"], item * (m * z["k"] + z["k"] * z["n"] + m * z["n"]),
        memory_bound=label == "decode"))
  scale = jnp.ones((z["k"],), jnp.float32)
  for label, m in (("train", z["m"]), ("decode", z["dec"])):
    x = rnd(2, (m, z["k"]))
    cases.append(Case(
        "rms_norm", f"{label} {m}x{z['k']}", (x,),
        lambda x: pk.rms_norm(x, scale, impl="pallas"), lambda x: pk.rms_norm(x, scale, impl="xla"),
        4.0 * x.size, 2.0 * item * x.size, memory_bound=True))
  for op, width in (("log_softmax", z["vocab"]), ("silu", z["n"])):
    x = rnd(3, (z["m"], width))
    cases.append(Case(
        op, f"train {z['m']}x{width}", (x,),
        lambda x, op=op: getattr(pk, op)(x, impl="pallas"),
        lambda x, op=op: getattr(pk, op)(x, impl="xla"),
        5.0 * x.size, 2.0 * item * x.size, memory_bound=True))
  b, t, hq, hkv, d = z["b"], z["t"], z["hq"], z["hkv"], z["d"]
  q, k, v = rnd(4, (b, t, hq, d)), rnd(5, (b, t, hkv, d)), rnd(6, (b, t, hkv, d))
  zeros, full = jnp.zeros((b,), jnp.int32), jnp.full((b,), t, jnp.int32)
  cases.append(Case(
      "attention", f"prefill B{b} T{t} H{hq}/{hkv} D{d}", (q, k, v),
      lambda q, k, v: pk.attention(q, k, v, q_start=zeros, kv_len=full, impl="pallas"),
      lambda q, k, v: jax.nn.dot_product_attention(q, k, v, is_causal=True),
      2.0 * b * hq * t * t * d, item * (2 * q.size + k.size + v.size), memory_bound=False))
  b, cap = z["dec_b"], z["cap"]
  q, k, v = rnd(7, (b, 1, hq, d)), rnd(8, (b, cap, hkv, d)), rnd(9, (b, cap, hkv, d))
  pos = jnp.full((b,), cap - 1, jnp.int32)
  cases.append(Case(
      "attention", f"decode B{b} S{cap} H{hq}/{hkv} D{d}", (q, k, v),
      lambda q, k, v: pk.attention(q, k, v, q_start=pos, kv_len=pos + 1, impl="pallas"),
      lambda q, k, v: pk.attention(q, k, v, q_start=pos, kv_len=pos + 1, impl="xla"),
      4.0 * b * hq * cap * d, item * (k.size + v.size), memory_bound=True))
  return cases


def _time(fn: Callable, args: tuple, iters: int) -> float:
  """Median seconds per call of jit(fn), after one compile-and-warm-up call."""
  fn = jax.jit(fn)
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(iters):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def _copy_bandwidth(size: str, iters: int) -> float:
  """Bytes/s of an XLA elementwise copy (read + write), measured now."""
  x = jnp.ones((64 if size == "small" else 1024, 1 << 20), jnp.float32)
  return 2 * x.nbytes / _time(lambda x: x + 1, (x,), iters)


def main(argv):
  del argv
  platform = jax.default_backend()
  size = _SIZE.value if _SIZE.value != "auto" else ("small" if platform == "cpu" else "large")
  device = jax.devices()[0]
  kind = getattr(device, "device_kind", platform)
  peak = next((p for name, p in _PEAKS.items() if name in kind), None)
  copy_bw = _copy_bandwidth(size, _ITERS.value)
  z = _sizes(size)
  print(f"device: {kind} ({platform}); backend: {pk.resolve_backend(None)}; "
        f"sizes: {size}; dtype: {jnp.dtype(z['dtype']).name}; "
        f"copy bandwidth: {copy_bw / 1e9:.1f} GB/s")
  print("| op | shape | pallas ms | xla ms | pallas/xla time | pallas throughput | % peak "
        "| % copy bw |")
  print("|---|---|---|---|---|---|---|---|")
  for case in _cases(z):
    t_pallas = _time(case.pallas, case.args, _ITERS.value)
    t_xla = _time(case.xla, case.args, _ITERS.value)
    if case.memory_bound:
      rate = case.bytes / t_pallas
      throughput = f"{rate / 1e9:.2f} GB/s"
      of_peak = f"{100 * rate / (peak[2] * 1e12):.0f}%" if peak else "n/a"
      of_copy = f"{100 * rate / copy_bw:.0f}%"
    else:
      rate = case.flops / t_pallas
      throughput = f"{rate / 1e12:.3f} TFLOP/s"
      flops_peak = peak and (peak[0] if z["dtype"] == jnp.bfloat16 else peak[1])
      of_peak = f"{100 * rate / (flops_peak * 1e12):.0f}%" if peak else "n/a"
      of_copy = "-"
    print(f"| {case.op} | {case.shape} | {1e3 * t_pallas:.2f} | {1e3 * t_xla:.2f} | "
          f"{t_pallas / t_xla:.2f} | {throughput} | {of_peak} | {of_copy} |")


if __name__ == "__main__":
  app.run(main)
