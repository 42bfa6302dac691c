"""Makes a Pallas forward differentiable with the VJP of its XLA reference."""

import functools
from typing import Callable

import jax


def with_reference_vjp(forward: Callable, reference: Callable, **static) -> Callable:
  """Returns `f(*arrays)`: `forward(*arrays, **static)` with `reference`'s VJP.

  `pallas_call` has no autodiff rule, so the forward pass runs the Pallas kernel
  (batch invariant) and the backward pass differentiates the pure-jnp
  reference at the same inputs. Gradients are therefore those of the
  reference: close to, not bitwise equal to, the derivative of the kernel.
  Integer inputs (positions, lengths) get float0 cotangents.

  Args:
    forward: the Pallas implementation, `forward(*arrays, **static)`.
    reference: the XLA implementation with the same array arguments.
    **static: hashable keyword arguments of `forward`; those that `reference`
      does not accept are not passed to it (backend, block sizes).
  """
  ref_static = {k: v for k, v in static.items() if k not in ("backend", "blocks")}

  @jax.custom_vjp
  def call(*arrays):
    return forward(*arrays, **static)

  def call_fwd(*arrays):
    return call(*arrays), arrays

  def call_bwd(arrays, cotangent):
    _, vjp = jax.vjp(functools.partial(reference, **ref_static), *arrays)
    return vjp(cotangent)

  call.defvjp(call_fwd, call_bwd)
  return call
