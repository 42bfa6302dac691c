"""Runs a per-row function on fixed [rows, lanes] blocks: the shared row-wise kernel.

Every row-wise op (RMSNorm, log-softmax, softmax, SiLU, GELU) flattens its
input to [R, N], pads R to a multiple of `BlockSizes.rows` and N to the lane
width, and runs one program per row block. A row is always computed in a block
of the same shape at the same row offset modulo the block, in float32, so its
bits do not depend on how many rows came with it.
"""

import functools
from typing import Callable

import jax
from jax.experimental import pallas as pl
import jax.numpy as jnp

from pallas_kernels import config
from pallas_kernels import platform

# body(x_rn, valid_1n, *vectors_1n) -> y_rn, all float32 except the bool mask.
RowBody = Callable[..., jax.Array]


def _rowwise_kernel(*refs, body: RowBody, n_valid: int, backend: str):
  x_ref, *vector_refs, y_ref = refs
  x_rn, vectors = platform.pin(backend, (x_ref[...], [r[...] for r in vector_refs]))
  col_1n = jax.lax.broadcasted_iota(jnp.int32, (1, x_rn.shape[1]), 1)
  vectors = [v.astype(jnp.float32) for v in vectors]
  y_rn = body(x_rn.astype(jnp.float32), col_1n < n_valid, *vectors)
  y_ref[...] = platform.pin(backend, y_rn.astype(y_ref.dtype))


def rowwise_call(body: RowBody, x: jax.Array, vectors: tuple[jax.Array, ...] = (), *,
                 backend: str, blocks: config.BlockSizes, name: str) -> jax.Array:
  """Applies `body` to the rows of `x [..., N]`; returns [..., N] in x's dtype.

  Padded columns hold zeros and are flagged False in `valid_1n`; bodies that
  reduce over a row must mask them. `vectors` are [N] per-column parameters
  (e.g. an RMSNorm scale), passed to `body` as [1, N_padded] float32.
  """
  *lead, n = x.shape
  x_rn = x.reshape(-1, n)
  r = x_rn.shape[0]
  br = blocks.rows
  rp, np_ = platform.round_up(max(r, 1), br), platform.lane_dim(n, backend)
  x_rn = platform.pad_axis(platform.pad_axis(x_rn, 0, rp), 1, np_)
  vecs_1n = [platform.pad_axis(v.reshape(1, n), 1, np_) for v in vectors]
  y_rn = pl.pallas_call(
      functools.partial(_rowwise_kernel, body=body, n_valid=n, backend=backend),
      out_shape=jax.ShapeDtypeStruct((rp, np_), x.dtype),
      grid=(rp // br,),
      in_specs=[pl.BlockSpec((br, np_), lambda i: (i, 0))]
      + [pl.BlockSpec((1, np_), lambda i: (0, 0)) for _ in vecs_1n],
      out_specs=pl.BlockSpec((br, np_), lambda i: (i, 0)),
      name=name,
      **platform.call_options(backend, grid_rank=1),
  )(x_rn, *vecs_1n)
  return y_rn[:r, :n].reshape(*lead, n)
