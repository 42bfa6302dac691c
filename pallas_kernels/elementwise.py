"""Row-wise transcendental ops on fixed-shape blocks: log-softmax, softmax, SiLU, GELU.

XLA:CPU evaluates exp/log/tanh with different bits depending on an element's
place in the array (vectorized body or scalar remainder), so even these
"elementwise" ops are not batch invariant under impl="xla". impl="pallas" runs
them in the shared row-wise kernel (`rowwise.py`): every row in a block of the
same shape, in float32, so a row's result is independent of the other rows.
"""

import math

import jax
import jax.numpy as jnp

from pallas_kernels import checks
from pallas_kernels import config
from pallas_kernels import platform
from pallas_kernels import rowwise
from pallas_kernels import vjp

_GELU_C = math.sqrt(2.0 / math.pi)


def _log_softmax_rows(x_rn, valid_1n):
  x_rn = jnp.where(valid_1n, x_rn, -jnp.inf)
  shifted_rn = x_rn - jnp.max(x_rn, axis=1, keepdims=True)
  exp_rn = jnp.where(valid_1n, jnp.exp(shifted_rn), 0.0)
  return shifted_rn - jnp.log(jnp.sum(exp_rn, axis=1, keepdims=True))


def _softmax_rows(x_rn, valid_1n):
  x_rn = jnp.where(valid_1n, x_rn, -jnp.inf)
  exp_rn = jnp.where(valid_1n, jnp.exp(x_rn - jnp.max(x_rn, axis=1, keepdims=True)), 0.0)
  return exp_rn / jnp.sum(exp_rn, axis=1, keepdims=True)


def _silu_rows(x_rn, valid_1n):
  del valid_1n
  return x_rn / (1.0 + jnp.exp(-x_rn))


def _gelu_rows(x_rn, valid_1n):
  del valid_1n
  return 0.5 * x_rn * (1.0 + jnp.tanh(_GELU_C * (x_rn + 0.044715 * x_rn * x_rn * x_rn)))


def _references():
  f32 = lambda f: (lambda x: f(x.astype(jnp.float32)).astype(x.dtype))
  return {
      "log_softmax": f32(lambda x: jax.nn.log_softmax(x, axis=-1)),
      "softmax": f32(lambda x: jax.nn.softmax(x, axis=-1)),
      "silu": f32(jax.nn.silu),
      "gelu": f32(lambda x: jax.nn.gelu(x, approximate=True)),
  }


_BODIES = {"log_softmax": _log_softmax_rows, "softmax": _softmax_rows,
           "silu": _silu_rows, "gelu": _gelu_rows}
REFERENCES = _references()


def _apply(op: str, x: jax.Array, impl: str, backend: str | None,
           blocks: config.BlockSizes) -> jax.Array:
  checks.check_impl(impl)
  checks.check_min_rank("x", x, 1, "..., N")
  checks.check_float("x", x)
  if impl == "xla":
    return REFERENCES[op](x)

  def forward(x, *, backend, blocks):
    return rowwise.rowwise_call(_BODIES[op], x, backend=backend, blocks=blocks,
                                name=f"invariant_{op}")

  f = vjp.with_reference_vjp(forward, REFERENCES[op],
                             backend=platform.resolve_backend(backend), blocks=blocks)
  return f(x)


def log_softmax(x: jax.Array, *, impl: str, backend: str | None = None,
                blocks: config.BlockSizes = config.DEFAULT_BLOCKS) -> jax.Array:
  """Log-softmax over the last axis (e.g. the vocabulary), in x's dtype, f32 inside."""
  return _apply("log_softmax", x, impl, backend, blocks)


def softmax(x: jax.Array, *, impl: str, backend: str | None = None,
            blocks: config.BlockSizes = config.DEFAULT_BLOCKS) -> jax.Array:
  """Softmax over the last axis (e.g. router logits over experts), f32 inside."""
  return _apply("softmax", x, impl, backend, blocks)


def silu(x: jax.Array, *, impl: str, backend: str | None = None,
         blocks: config.BlockSizes = config.DEFAULT_BLOCKS) -> jax.Array:
  """SiLU `x * sigmoid(x)`; rows are the last axis (only for blocking)."""
  return _apply("silu", x, impl, backend, blocks)


def gelu(x: jax.Array, *, impl: str, backend: str | None = None,
         blocks: config.BlockSizes = config.DEFAULT_BLOCKS) -> jax.Array:
  """GELU, tanh approximation (`jax.nn.gelu(approximate=True)`), f32 inside."""
  return _apply("gelu", x, impl, backend, blocks)
