"""Batch-invariant matmul: fixed (bm, bn, bk) tiles, K reduced inside one program."""

import functools

import jax
from jax.experimental import pallas as pl
import jax.numpy as jnp

from pallas_kernels import checks
from pallas_kernels import config
from pallas_kernels import platform
from pallas_kernels import vjp


def matmul(x: jax.Array, w: jax.Array, *, impl: str, backend: str | None = None,
           blocks: config.BlockSizes = config.DEFAULT_BLOCKS) -> jax.Array:
  """`x [..., K] @ w [K, N] -> [..., N]` in x's dtype, accumulated in float32.

  impl="pallas" is batch invariant: output row m depends only on x's row m and
  w, bit for bit, whatever the number of rows or their contents. Rows are
  padded to a multiple of `blocks.matmul_m` and every output tile is a fixed
  (matmul_m, matmul_n) tile whose K loop runs in ascending steps of
  `blocks.matmul_k` inside one program (no split-K). impl="xla" is `jnp.dot`
  (fast; on XLA:CPU its result for a row depends on the row count).

  Args:
    x: [..., K] float32 or bfloat16.
    w: [K, N], same dtype as x.
    impl: "pallas" (batch invariant) or "xla" (reference).
    backend: Pallas backend ("interpret", "tpu", "triton"); None picks by device.
    blocks: tile sizes; must be the same wherever results are compared.
  """
  checks.check_impl(impl)
  checks.check_min_rank("x", x, 1, "..., K")
  checks.check_rank("w", w, 2, "K, N")
  checks.check_float("x", x)
  checks.check_same_dtype("x and w", x, w)
  if x.shape[-1] != w.shape[0]:
    raise ValueError(
        f"x's last dim (K={x.shape[-1]}) must equal w's first dim, got w {w.shape}")
  if impl == "xla":
    return matmul_reference(x, w)
  f = vjp.with_reference_vjp(_matmul_pallas, matmul_reference,
                             backend=platform.resolve_backend(backend), blocks=blocks)
  return f(x, w)


def matmul_reference(x: jax.Array, w: jax.Array) -> jax.Array:
  """Plain XLA matmul with float32 accumulation (full precision for float32)."""
  y = jnp.dot(x, w, preferred_element_type=jnp.float32,
              precision=jax.lax.Precision.HIGHEST)
  return y.astype(x.dtype)


def _matmul_kernel(x_ref, w_ref, y_ref, *, block_k: int, num_k: int, backend: str):
  # x_ref [bm, Kp], w_ref [Kp, bn], y_ref [bm, bn]
  def step(i, acc_mn):
    k0 = pl.multiple_of(i * block_k, block_k)
    x_mk, w_kn = platform.pin(backend, (x_ref[:, pl.ds(k0, block_k)],
                                        w_ref[pl.ds(k0, block_k), :]))
    return acc_mn + jnp.dot(x_mk, w_kn, preferred_element_type=jnp.float32,
                            precision=jax.lax.Precision.HIGHEST)

  acc_mn = jnp.zeros(y_ref.shape, jnp.float32)
  acc_mn = jax.lax.fori_loop(0, num_k, step, acc_mn)
  y_ref[...] = platform.pin(backend, acc_mn.astype(y_ref.dtype))


def _matmul_pallas(x: jax.Array, w: jax.Array, *, backend: str,
                   blocks: config.BlockSizes) -> jax.Array:
  *lead, k = x.shape
  n = w.shape[1]
  bm, bn, bk = blocks.matmul_m, blocks.matmul_n, blocks.matmul_k
  x_mk = x.reshape(-1, k)
  m = x_mk.shape[0]
  mp, kp, np_ = platform.round_up(max(m, 1), bm), platform.round_up(k, bk), platform.round_up(n, bn)
  x_mk = platform.pad_axis(platform.pad_axis(x_mk, 0, mp), 1, kp)
  w_kn = platform.pad_axis(platform.pad_axis(w, 0, kp), 1, np_)
  y_mn = pl.pallas_call(
      functools.partial(_matmul_kernel, block_k=bk, num_k=kp // bk, backend=backend),
      out_shape=jax.ShapeDtypeStruct((mp, np_), x.dtype),
      grid=(mp // bm, np_ // bn),
      in_specs=[pl.BlockSpec((bm, kp), lambda i, j: (i, 0)),
                pl.BlockSpec((kp, bn), lambda i, j: (0, j))],
      out_specs=pl.BlockSpec((bm, bn), lambda i, j: (i, j)),
      name="invariant_matmul",
      **platform.call_options(backend, grid_rank=2),
  )(x_mk, w_kn)
  return y_mn[:m, :n].reshape(*lead, n)
