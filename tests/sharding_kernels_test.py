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
import ml_collections

from data_pipelines.stream import TickLayout
from interaction import config as config_lib
from interaction import model as model_lib
from interaction import params
from interaction import sharding
from interaction import toy_data

LAYOUT = TickLayout(frames_per_audio_token=2, video_height=40, video_width=40,
                    text_in_tokens=2, bg_in_tokens=2, text_out_tokens=4)


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
    cfg = config_lib.ModelConfig(d_model=32, n_layers=1, n_heads=4, n_kv_heads=2, head_dim=8,
                                 d_ff=32, n_experts=n_experts, top_k=2, hmlp_dims=(8, 16),
                                 flow_dim=32, flow_layers=1, impl="pallas")
    with nnx.use_eager_sharding(False):
      model = model_lib.InteractionModel(LAYOUT, cfg, rngs=nnx.Rngs(0))
    batch, key = toy_data.toy_batch(LAYOUT, 2, 8), jax.random.key(0)
    config = ml_collections.ConfigDict()
    config.mesh = dict(dict(data=1, fsdp=1, expert=1, sequence=1, tensor=1), **sizes)
    mesh = sharding.make_mesh(config)
    step = lambda m, b, k: nnx.grad(_loss)(m, b, k)
    unsharded = count_pallas_calls(jax.make_jaxpr(step)(model, batch, key).jaxpr)
    with sharding.use(mesh, params.DEFAULT_RULES):
      sharded = count_pallas_calls(jax.make_jaxpr(step)(model, batch, key).jaxpr)
    self.assertGreater(unsharded["outside"], 10)  # the walk does find them.
    self.assertEqual(sharded, {"inside": unsharded["outside"], "outside": 0})


if __name__ == "__main__":
  absltest.main()
