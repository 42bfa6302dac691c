"""Input validation shared by the ops: errors name what was wrong and what was expected."""

import jax.numpy as jnp

IMPLS = ("xla", "pallas")
FLOAT_DTYPES = (jnp.dtype(jnp.float32), jnp.dtype(jnp.bfloat16))


def check_impl(impl: str) -> None:
  if impl not in IMPLS:
    raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")


def check_float(name: str, x) -> None:
  if jnp.dtype(x.dtype) not in FLOAT_DTYPES:
    raise ValueError(f"{name} must be float32 or bfloat16, got {x.dtype}")


def check_rank(name: str, x, rank: int, axes: str) -> None:
  if x.ndim != rank:
    raise ValueError(f"{name} must have rank {rank} [{axes}], got shape {x.shape}")


def check_min_rank(name: str, x, rank: int, axes: str) -> None:
  if x.ndim < rank:
    raise ValueError(f"{name} must have rank >= {rank} [{axes}], got shape {x.shape}")


def check_same_dtype(names: str, *arrays) -> None:
  dtypes = [str(a.dtype) for a in arrays]
  if len(set(dtypes)) != 1:
    raise ValueError(f"{names} must share one dtype, got {', '.join(dtypes)}")
