"""Chooses how a Pallas kernel is compiled: TPU Mosaic, GPU Triton or interpret.

Backends:
  "tpu": Mosaic TPU, `pltpu.CompilerParams` with every grid axis "parallel"
    (no kernel here carries state across grid steps).
  "triton": the GPU path. Our kernels are `pl.pallas_call`s with BlockSpecs,
    in-kernel `jnp.dot` on arbitrary tiles and dynamic `pl.ds` slices. In jax
    0.11.2 that body lowers to GPU only through the Triton lowering (explicit
    `pltriton.CompilerParams`, deprecated upstream but working). Mosaic GPU,
    the supported default, needs warpgroup-level kernels (`plgpu.kernel`,
    SMEM/TMA pipelines, wgmma), and its `pallas_call` lowering is not even
    registered in a CPU-only jaxlib, so it cannot be tested from CI here. A
    Mosaic GPU port is future work.
  "interpret": Pallas's generic interpreter (the grid becomes a loop of XLA
    ops); the only choice on CPU, where all tests run.

`None` picks by `jax.default_backend()`; every op takes `backend=` to override
it (the lowering tests force "tpu" and "triton" while running on CPU).
"""

import jax
from jax.experimental import pallas as pl
from jax.experimental.pallas import tpu as pltpu
from jax.experimental.pallas import triton as pltriton
import jax.numpy as jnp

BACKENDS = ("interpret", "tpu", "triton")
TRITON_NUM_WARPS = 4
TRITON_NUM_STAGES = 2
LANES = 128  # TPU lane width; row-wise kernels pad their last dim to it.


def resolve_backend(backend: str | None) -> str:
  """Returns the backend to compile for: `backend`, or the default device's."""
  if backend is None:
    platform = jax.default_backend()
    if platform == "tpu":
      return "tpu"
    if platform in ("gpu", "cuda", "rocm"):
      return "triton"
    return "interpret"
  if backend not in BACKENDS:
    raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
  return backend


def call_options(backend: str, grid_rank: int) -> dict:
  """Keyword arguments for `pl.pallas_call` (`interpret`, `compiler_params`)."""
  if backend == "interpret":
    return {"interpret": True}
  if backend == "tpu":
    return {"compiler_params": pltpu.CompilerParams(
        dimension_semantics=("parallel",) * grid_rank)}
  return {"compiler_params": pltriton.CompilerParams(
      num_warps=TRITON_NUM_WARPS, num_stages=TRITON_NUM_STAGES)}


def scalar_spec(backend: str) -> pl.BlockSpec:
  """BlockSpec for a small whole int32 vector read with scalar loads.

  SMEM on TPU; elsewhere the whole array. Callers pad its length to a power of
  two (Triton).
  """
  if backend == "tpu":
    return pl.BlockSpec(memory_space=pltpu.SMEM)
  return pl.no_block_spec


def round_up(n: int, multiple: int) -> int:
  return -(-n // multiple) * multiple


def next_power_of_two(n: int) -> int:
  return 1 << max(n - 1, 0).bit_length()


def lane_dim(n: int, backend: str) -> int:
  """Padded size of a row-wise kernel's last (reduced) dimension.

  A multiple of 128 lanes (TPU layout; on CPU it also keeps every element in
  the vectorized body of XLA's loops), and a power of two for Triton.
  """
  padded = round_up(n, LANES)
  return next_power_of_two(padded) if backend == "triton" else padded


def head_dim(n: int, backend: str) -> int:
  """Padded attention head dimension: a power of two >= 16 for Triton only."""
  return max(16, next_power_of_two(n)) if backend == "triton" else n


def pad_axis(x: jax.Array, axis: int, size: int) -> jax.Array:
  """Zero-pads `x` along `axis` up to `size` (no-op when already that size)."""
  extra = size - x.shape[axis]
  if extra == 0:
    return x
  widths = [(0, 0)] * x.ndim
  widths[axis] = (0, extra)
  return jnp.pad(x, widths)


def pin(backend: str, tree):
  """Materializes kernel-boundary values at their block shape in interpret mode.

  Interpreted, a kernel body is compiled by XLA together with the code around
  it, and with a one-step grid XLA inlines the loop and may fuse the body into
  the surrounding pad/slice, evaluating exp/log/rsqrt over the *sliced* shape,
  whose bits depend on the number of rows (measured: RMSNorm broke batch
  invariance for one-block inputs). An optimization barrier on every loaded
  block and on every result before its store keeps all in-kernel math on
  fixed block shapes. Compiled backends (TPU, Triton) need no barrier.

  Args:
    backend: the resolved backend.
    tree: a pytree of arrays, returned unchanged in value.
  """
  return jax.lax.optimization_barrier(tree) if backend == "interpret" else tree
