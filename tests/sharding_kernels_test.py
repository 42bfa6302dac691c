"""Under a mesh every Pallas call of the training forward and backward runs inside `jax.shard_map`.

A `pallas_call` cannot be partitioned by XLA (on an accelerator it would be
replicated or fail), so the sharded model must place each one in a shard_map.
Checked on the traced program (no compilation), for a dense and an MoE model on
a mesh that uses FSDP, sequence/context, tensor and expert axes.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized
from flax import nnx
import jax
from jax.extend import core as jax_core

from interaction import sharding
from tests import sharding_testing as st


def count_pallas_calls(jaxpr: jax_core.Jaxpr, inside: bool = False,
                       counts: dict | None = None) -> dict[str, int]:
  """{"inside": n, "outside": m}: pallas_calls nested in a shard_map or not."""
  counts = {"inside": 0, "outside": 0} if counts is None else counts
  for eqn in jaxpr.eqns:
    name = eqn.primitive.name
    if name == "pallas_call":
      counts["inside" if inside else "outside"] += 1
    for value in eqn.params.values():
      for sub in value if isinstance(value, (list, tuple)) else (value,):
        if isinstance(sub, jax_core.ClosedJaxpr):
          sub = sub.jaxpr
        if isinstance(sub, jax_core.Jaxpr):
          count_pallas_calls(sub, inside or name == "shard_map", counts)
  return counts


def _loss(model, batch, key):
  return model(batch, key)[0]["total"]


class PallasInsideShardMapTest(parameterized.TestCase):

  @parameterized.named_parameters(("dense", 0, dict(fsdp=2, sequence=2, tensor=2)),
                                  ("moe", 4, dict(fsdp=2, expert=2, tensor=2)))
  def test_training_step(self, n_experts, sizes):
    model, batch, key = st.model("pallas", n_experts), st.batch(), jax.random.key(0)
    mesh = st.make_mesh(sizes)
    step = lambda m, b, k: nnx.grad(_loss)(m, b, k)
    unsharded = count_pallas_calls(jax.make_jaxpr(step)(model, batch, key).jaxpr)
    with sharding.use(mesh, st.RULES):
      sharded = count_pallas_calls(jax.make_jaxpr(step)(model, batch, key).jaxpr)
    self.assertGreater(unsharded["outside"], 10)  # the walk does find them.
    self.assertEqual(sharded, {"inside": unsharded["outside"], "outside": 0})

if __name__ == "__main__":
  absltest.main()
