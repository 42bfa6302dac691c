"""Shared test suite machinery: one suite per op, run against every impl.

Test files subclass a suite once per implementation (`IMPL = "pallas"` and
`IMPL = "xla"`), in the spirit of tokamax's test_base. Invariance is asserted
bit-exactly; closeness to the reference with tolerances scaled by dtype and
reduction length, never loosened to make a test pass.
"""

import contextlib
import math
from typing import Callable, Sequence

from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np


def tolerance(dtype, reduction_len: int) -> float:
  """Relative tolerance of a kernel against its float32 reference.

  Two ulps of the output dtype (both sides round once to it), plus the spread
  of two float32 summation orders over `reduction_len` terms (~sqrt(n) eps).
  """
  return (2 * float(jnp.finfo(dtype).eps)
          + 4 * float(jnp.finfo(jnp.float32).eps) * math.sqrt(reduction_len))


def assert_close(actual, expected, dtype, reduction_len: int) -> None:
  """Elementwise |a - e| <= tol * (|e| + max|e|), tol from `tolerance`."""
  actual = np.asarray(actual, np.float32)
  expected = np.asarray(expected, np.float32)
  tol = tolerance(dtype, reduction_len)
  np.testing.assert_allclose(actual, expected, rtol=tol,
                             atol=tol * float(np.max(np.abs(expected))))


def abstract_target(platform: str) -> contextlib.AbstractContextManager:
  """Context that makes `lower(lowering_platforms=...)` target a device we lack.

  jax 0.11 asks which TPU generation or GPU model to lower for when none is
  attached; we pick a TPU v5e and an H100.
  """
  kind = {"tpu": "TPU v5 lite", "cuda": "NVIDIA H100 80GB HBM3"}[platform]
  device = jax.sharding.AbstractDevice(
      device_kind=kind, num_cores=1, platform="tpu" if platform == "tpu" else "gpu")
  mesh = jax.sharding.AbstractMesh((1,), ("x",), (jax.sharding.AxisType.Explicit,),
                                   abstract_device=device)
  return jax.sharding.use_abstract_mesh(mesh)


def random(key: int, shape: Sequence[int], dtype, scale: float = 1.0) -> jax.Array:
  return (scale * jax.random.normal(jax.random.key(key), shape, jnp.float32)).astype(dtype)


class KernelTestBase(parameterized.TestCase):
  """Base of the per-op suites; subclasses set IMPL ("pallas" or "xla")."""

  IMPL: str | None = None

  def setUp(self):
    super().setUp()
    if self.IMPL is None:
      self.skipTest("abstract suite: run through a subclass that sets IMPL")

  @property
  def invariant_impl(self) -> bool:
    return self.IMPL == "pallas"

  def assert_batch_invariance(self, f: Callable, x: jax.Array, ms: Sequence[int],
                              xla_cpu_invariant: bool) -> None:
    """Checks `f(x[:m]) == f(x)[:m]` bitwise for every m.

    impl="pallas" must pass for every m. impl="xla" is asserted to behave as
    measured on XLA:CPU: invariant for every m (`xla_cpu_invariant`) or not
    invariant for at least one m; on other backends it is not measured.
    """
    full = np.asarray(f(x))
    differ = [m for m in ms if not np.array_equal(np.asarray(f(x[:m])), full[:m])]
    if self.invariant_impl:
      self.assertEqual(differ, [], f"rows changed when the batch was cut to m={differ}")
    elif jax.default_backend() != "cpu":
      self.skipTest("XLA's batch invariance is only measured on XLA:CPU")
    elif xla_cpu_invariant:
      self.assertEqual(differ, [], "XLA:CPU was measured invariant for this op")
    else:
      self.assertNotEmpty(differ, "XLA:CPU was measured NOT invariant for this op")

  def assert_identical_rows(self, f: Callable, row: jax.Array, count: int) -> None:
    """`count` stacked copies of one row give `count` identical output rows."""
    y = np.asarray(f(jnp.broadcast_to(row, (count,) + row.shape)))
    for i in range(1, count):
      np.testing.assert_array_equal(y[i], y[0], err_msg=f"row {i} != row 0")
