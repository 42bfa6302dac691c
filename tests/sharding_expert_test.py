"""Expert parallelism: a sharded MoE layer gives the single-device bits (pallas) or close (xla)."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized
from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from interaction import config as config_lib
from interaction import moe
from interaction import params
from interaction import sharding
from pallas_kernels import test_base

D_MODEL = 32


def _layer(impl: str) -> moe.MoEFFN:
  cfg = config_lib.ModelConfig(d_model=D_MODEL, d_ff=32, n_experts=4, top_k=2, impl=impl)
  with nnx.use_eager_sharding(False):
    return moe.MoEFFN(cfg, rngs=nnx.Rngs(1))


def _mesh(**sizes) -> jax.sharding.Mesh:
  config = ml_collections.ConfigDict()
  config.mesh = dict(dict(data=1, fsdp=1, expert=1, sequence=1, tensor=1), **sizes)
  return sharding.make_mesh(config)


@jax.jit
def _apply(layer, x_btd):
  y_btd, aux = layer(x_btd)
  return y_btd, aux


class ExpertParallelTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("ep_pallas", dict(data=2, expert=4), "pallas"),
      ("ep_fsdp_tp_pallas", dict(fsdp=2, expert=2, tensor=2), "pallas"),
      ("ep_xla", dict(data=2, expert=4), "xla"))
  def test_sharded_layer_matches_one_device(self, sizes, impl):
    x_btd = jax.random.normal(jax.random.key(0), (8, 12, D_MODEL), jnp.float32)
    layer = _layer(impl)
    expected_y, expected_aux = _apply(layer, x_btd)
    mesh = _mesh(**sizes)
    graphdef, state = nnx.split(layer)
    state = jax.device_put(state, sharding.state_shardings(state, mesh, params.DEFAULT_RULES))
    sharded = nnx.merge(graphdef, state)
    self.assertEqual(sharded.up.get_value().sharding.spec[0], "expert")
    x_sharded = jax.device_put(x_btd, sharding.batch_sharding(mesh))
    with sharding.use(mesh, params.DEFAULT_RULES):
      y, aux = _apply(sharded, x_sharded)
    if impl == "pallas":  # row-invariant kernels and an exact psum: the same bits.
      np.testing.assert_array_equal(y, expected_y)
    else:
      test_base.assert_close(y, expected_y, jnp.float32, D_MODEL)
    for name in expected_aux:  # global statistics, reduced in another order.
      test_base.assert_close(aux[name], expected_aux[name], jnp.float32, x_btd.size)


if __name__ == "__main__":
  absltest.main()
