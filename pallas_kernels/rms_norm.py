"""Batch-invariant RMSNorm: one row block per program, float32 reduction."""

import jax
import jax.numpy as jnp

from pallas_kernels import checks
from pallas_kernels import config
from pallas_kernels import platform
from pallas_kernels import rowwise
from pallas_kernels import vjp


def rms_norm(x: jax.Array, scale: jax.Array, *, eps: float = 1e-6, impl: str,
             backend: str | None = None,
             blocks: config.BlockSizes = config.DEFAULT_BLOCKS) -> jax.Array:
  """`x * rsqrt(mean(x**2, -1) + eps) * scale` over the last axis, in x's dtype.

  Computed in float32. impl="pallas" is batch invariant: each row is reduced
  in a fixed order inside one fixed-shape [BlockSizes.rows, N] block, and the
  rsqrt runs inside the kernel, so a row's bits do not depend on the other
  rows. impl="xla" is the plain-jnp reference.

  Args:
    x: [..., N] float32 or bfloat16.
    scale: [N] float32 or bfloat16 (multiplies the normalized row).
    eps: added to the mean square before the rsqrt.
    impl: "pallas" or "xla".
    backend: Pallas backend; None picks by device.
    blocks: block sizes (only `rows` is used).
  """
  checks.check_impl(impl)
  checks.check_min_rank("x", x, 1, "..., N")
  checks.check_rank("scale", scale, 1, "N")
  checks.check_float("x", x)
  checks.check_float("scale", scale)
  if scale.shape[0] != x.shape[-1]:
    raise ValueError(f"scale must have shape [{x.shape[-1]}] (x's last dim), got {scale.shape}")
  if impl == "xla":
    return rms_norm_reference(x, scale, eps=eps)
  f = vjp.with_reference_vjp(_rms_norm_pallas, rms_norm_reference, eps=eps,
                             backend=platform.resolve_backend(backend), blocks=blocks)
  return f(x, scale)


def rms_norm_reference(x: jax.Array, scale: jax.Array, *, eps: float) -> jax.Array:
  x32 = x.astype(jnp.float32)
  mean_sq = jnp.mean(x32 * x32, axis=-1, keepdims=True)
  return (x32 * jax.lax.rsqrt(mean_sq + eps) * scale.astype(jnp.float32)).astype(x.dtype)


def _rms_norm_pallas(x, scale, *, eps, backend, blocks):
  n = x.shape[-1]

  def body(x_rn, valid_1n, scale_1n):
    del valid_1n  # padded columns are zero and do not change the sum
    mean_sq_r1 = jnp.sum(x_rn * x_rn, axis=1, keepdims=True) / n
    return x_rn * jax.lax.rsqrt(mean_sq_r1 + eps) * scale_1n

  return rowwise.rowwise_call(body, x, (scale,), backend=backend, blocks=blocks,
                              name="invariant_rms_norm")
