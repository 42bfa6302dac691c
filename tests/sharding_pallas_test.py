"""impl="pallas" under a mesh: kernels in shard_map give the single-device results.

dp+cp+tp+sp losses and gradients match one device to float tolerance; the
residual stream is sequence parallel; under data-like sharding (dp, fsdp, ep)
the per-token log-probs are bit-identical to one device.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from interaction import sharding
from tests import sharding_testing as st

_forward = jax.jit(lambda model, batch, key: model(batch, key))
_hidden = jax.jit(lambda model, batch: model.hidden(batch)[0])


class ShardedPallasTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.batch = st.batch()
    cls.key = jax.random.key(7)

  def test_dp_cp_tp_sp_losses_and_grads(self):
    mesh = st.make_mesh(dict(data=2, sequence=2, tensor=2))
    model, batch = st.shard(st.model("pallas", 0), self.batch, mesh)
    with sharding.use(mesh, st.RULES):
      actual = st.losses_and_grads(model, batch, self.key)
      h_bld = _hidden(model, batch)
    st.assert_match(self, actual, st.losses_and_grads(st.model("pallas", 0), self.batch, self.key))
    expected = jax.NamedSharding(mesh, jax.P(("data", "fsdp", "expert"), ("sequence", "tensor")))
    self.assertTrue(h_bld.sharding.is_equivalent_to(expected, 3), msg=str(h_bld.sharding))
    self.assertEqual(h_bld.addressable_shards[0].data.shape,
                     (st.BATCH // 2, st.N_TICKS * st.LAYOUT.tick_len // 4, 32))

  def test_data_like_sharding_gives_the_single_device_bits(self):
    # Batch-invariant kernels, FSDP gathers and expert parallelism's exact psum:
    # a token's log-prob does not depend on which device computed it.
    mesh = st.make_mesh(dict(data=2, fsdp=2, expert=2))
    model, batch = st.shard(st.model("pallas", 4), self.batch, mesh)
    with sharding.use(mesh, st.RULES):
      _, logprobs = _forward(model, batch, self.key)
    _, expected = _forward(st.model("pallas", 4), self.batch, self.key)
    self.assertTrue(jnp.any(expected != 0))
    np.testing.assert_array_equal(logprobs, expected)


if __name__ == "__main__":
  absltest.main()
