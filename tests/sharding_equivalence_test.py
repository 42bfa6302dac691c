"""Sharded losses and grads (dp, fsdp, tp+sp, ep, fsdp+cp+tp+sp on MoE; xla) match one device."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized
import jax

from interaction import sharding
from tests import sharding_testing as st

STRATEGIES = {  # name -> (mesh sizes, n_experts)
    "dp": (dict(data=8), 0),
    "fsdp": (dict(fsdp=8), 0),
    "tp_sp": (dict(data=4, tensor=2), 0),
    "ep": (dict(data=2, expert=4), 4),
    "fsdp_cp_tp_sp_moe": (dict(fsdp=2, sequence=2, tensor=2), 4),
}


class ShardedMatchesSingleDeviceTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.batch = st.batch()
    cls.key = jax.random.key(7)
    cls.reference = {}

  def _reference(self, n_experts):
    if n_experts not in self.reference:
      self.reference[n_experts] = st.losses_and_grads(st.model("xla", n_experts), self.batch,
                                                      self.key)
    return self.reference[n_experts]

  @parameterized.named_parameters(*((name, name) for name in STRATEGIES))
  def test_losses_and_grads(self, strategy):
    sizes, n_experts = STRATEGIES[strategy]
    mesh = st.make_mesh(sizes)
    model, batch = st.shard(st.model("xla", n_experts), self.batch, mesh)
    with sharding.use(mesh, st.RULES):
      sharding.check_sharded(model, mesh, rules=st.RULES, min_size=6000)
      actual = st.losses_and_grads(model, batch, self.key)
    st.assert_match(self, actual, self._reference(n_experts))

  def test_no_rules_under_a_mesh_is_an_error(self):
    mesh = st.make_mesh(dict(data=8))
    model, batch = st.shard(st.model("xla", 0), self.batch, mesh)
    with jax.set_mesh(mesh), self.assertRaisesRegex(ValueError, "no logical axis rules"):
      model.hidden(batch)


if __name__ == "__main__":
  absltest.main()
