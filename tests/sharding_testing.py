"""Shared pieces of the sharding tests: a tiny model, meshes from sizes, sharded copies, comparison.

Import after `tests.testing` (8 fake CPU devices).
"""

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections

from data_pipelines.stream import TickLayout
from interaction import config as config_lib
from interaction import model as model_lib
from interaction import params
from interaction import partitioning
from interaction import sharding
from interaction import toy_data
from pallas_kernels import test_base

LAYOUT = TickLayout(frames_per_audio_token=2, video_height=40, video_width=40,
                    text_in_tokens=2, bg_in_tokens=2, text_out_tokens=4)  # 22 positions a tick.
N_TICKS, BATCH = 2, 8  # L = 44 splits over sequence x tensor = 4; B over up to 8 devices.
RULES = partitioning.validate_rules(params.DEFAULT_RULES)
# Every gradient and loss sums over at most BATCH * L token terms in some order.
REDUCTION_LEN = BATCH * N_TICKS * LAYOUT.tick_len


def model(impl: str, n_experts: int) -> model_lib.InteractionModel:
  """A one-layer model (4 query / 2 key-value heads, top-2 of n_experts), unsharded."""
  cfg = config_lib.ModelConfig(d_model=32, n_layers=1, n_heads=4, n_kv_heads=2, head_dim=8,
                               d_ff=32, n_experts=n_experts, top_k=2, hmlp_dims=(8, 16),
                               flow_dim=32, flow_layers=1, impl=impl)
  with nnx.use_eager_sharding(False):
    return model_lib.InteractionModel(LAYOUT, cfg, rngs=nnx.Rngs(0))


def batch() -> dict:
  return toy_data.toy_batch(LAYOUT, N_TICKS, BATCH)


def make_mesh(sizes: dict) -> jax.sharding.Mesh:
  """A mesh over all 8 devices with the given axis sizes (others 1)."""
  config = ml_collections.ConfigDict()
  config.mesh = dict(dict(data=1, fsdp=1, expert=1, sequence=1, tensor=1), **sizes)
  return sharding.make_mesh(config)


def shard(module, batch_dict: dict, mesh: jax.sharding.Mesh):
  """Copies of `module` and `batch_dict` placed as the rules say on `mesh`."""
  graphdef, state = nnx.split(module)
  state = jax.device_put(state, sharding.state_shardings(state, mesh, RULES))
  return (nnx.merge(graphdef, state),
          jax.device_put(batch_dict, sharding.batch_sharding(mesh, RULES)))


def _loss(module, batch_dict, key):
  losses, _ = module(batch_dict, key)
  return losses["total"], losses


@jax.jit  # One jitted function for every case: traced again per mesh and model structure.
def losses_and_grads(module, batch_dict, key):
  (_, losses), grads = nnx.value_and_grad(_loss, has_aux=True)(module, batch_dict, key)
  return losses, grads


def assert_match(test, actual, expected) -> None:
  """Losses and every gradient close with the float32 tolerance of REDUCTION_LEN terms."""
  (losses, grads), (ref_losses, ref_grads) = actual, expected
  test.assertEqual(set(losses), set(ref_losses))
  for name in ref_losses:
    test_base.assert_close(losses[name], ref_losses[name], jnp.float32, REDUCTION_LEN)
  ref_leaves = jax.tree_util.tree_leaves_with_path(ref_grads)
  leaves = jax.tree.leaves(grads)
  test.assertLen(leaves, len(ref_leaves))
  for (path, expected_leaf), leaf in zip(ref_leaves, leaves):
    with test.subTest(grad=jax.tree_util.keystr(path)):
      test_base.assert_close(leaf, expected_leaf, jnp.float32, REDUCTION_LEN)
