"""The shared helper gives tests 8 fake CPU devices and meshes over them."""

from tests import testing  # isort: skip  (must configure JAX first)

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np


class FakeDevicesTest(absltest.TestCase):

  def test_eight_cpu_devices(self):
    self.assertEqual(jax.device_count(), testing.FAKE_DEVICE_COUNT)
    self.assertTrue(all(d.platform == "cpu" for d in jax.devices()))

  def test_mesh_shards_an_array(self):
    mesh = testing.make_test_mesh((2, 4), ("data", "model"))
    sharding = jax.NamedSharding(mesh, jax.P("data", "model"))
    x = jax.device_put(jnp.arange(32.0).reshape(4, 8), sharding)
    self.assertLen(x.addressable_shards, 8)
    self.assertEqual(x.addressable_shards[0].data.shape, (2, 2))
    np.testing.assert_array_equal(np.asarray(x), np.arange(32.0).reshape(4, 8))

  def test_mesh_too_big_is_a_clear_error(self):
    with self.assertRaisesRegex(RuntimeError, "needs 16 devices"):
      testing.make_test_mesh((4, 4), ("data", "model"))


if __name__ == "__main__":
  absltest.main()
