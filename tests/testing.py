"""Shared test helpers: 8 fake CPU devices for sharding tests, and a mesh factory.

Import this module (or call `use_fake_cpu_devices()`) before any JAX operation
runs. Under pytest, `tests/conftest.py` does it once per process; under Bazel
every test file is its own process and imports it at the top.
"""

import jax
import numpy as np

FAKE_DEVICE_COUNT = 8


def use_fake_cpu_devices(count: int = FAKE_DEVICE_COUNT) -> None:
  """Makes XLA:CPU expose `count` devices.

  Must run before JAX initializes its backends. If they are already up with at
  least `count` devices this is a no-op; with fewer it raises RuntimeError
  saying so, instead of letting a sharding test silently run on one device.
  """
  jax.config.update("jax_platforms", "cpu")
  try:
    jax.config.update("jax_num_cpu_devices", count)
  except RuntimeError:
    if jax.device_count() < count:
      raise RuntimeError(
          f"tests need {count} fake CPU devices but JAX already started with "
          f"{jax.device_count()}; import tests.testing before any JAX operation"
      ) from None


def make_test_mesh(shape: tuple[int, ...], names: tuple[str, ...]) -> jax.sharding.Mesh:
  """An Auto-axis mesh over the first prod(shape) fake CPU devices."""
  n = int(np.prod(shape))
  if jax.device_count() < n:
    raise RuntimeError(f"mesh {shape} needs {n} devices, JAX has {jax.device_count()}")
  axis_types = (jax.sharding.AxisType.Auto,) * len(shape)
  return jax.make_mesh(shape, names, axis_types=axis_types, devices=jax.devices()[:n])


use_fake_cpu_devices()
