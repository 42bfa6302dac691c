"""Sharded losses and gradients (dp, fsdp, tp+sp, ep, combinations; xla and pallas) match one device."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized
from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

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

STRATEGIES = {  # name -> (mesh sizes, n_experts)
    "dp": (dict(data=8), 0),
    "fsdp": (dict(fsdp=8), 0),
    "tp_sp": (dict(data=4, tensor=2), 0),
    "ep": (dict(data=2, expert=4), 4),
    "fsdp_cp_tp_sp_moe": (dict(fsdp=2, sequence=2, tensor=2), 4),
    "dp_cp_tp_sp": (dict(data=2, sequence=2, tensor=2), 0),  # impl="pallas" only.
}


def model_config(impl: str, n_experts: int) -> config_lib.ModelConfig:
  return config_lib.ModelConfig(d_model=32, n_layers=1, n_heads=4, n_kv_heads=2, head_dim=8,
                                d_ff=32, n_experts=n_experts, top_k=2, hmlp_dims=(8, 16),
                                flow_dim=32, flow_layers=1, impl=impl)


def make_mesh(sizes: dict) -> jax.sharding.Mesh:
  config = ml_collections.ConfigDict()
  config.mesh = dict(dict(data=1, fsdp=1, expert=1, sequence=1, tensor=1), **sizes)
  return sharding.make_mesh(config)


def _loss(model, batch, key):
  losses, _ = model(batch, key)
  return losses["total"], losses


@jax.jit  # One jitted function for every case: traced again per mesh and model structure.
def _loss_and_grads(model, batch, key):
  (_, losses), grads = nnx.value_and_grad(_loss, has_aux=True)(model, batch, key)
  return losses, grads


def _hidden(model, batch):
  return model.hidden(batch)[0]


_hidden_jit = jax.jit(_hidden)
_forward = jax.jit(lambda model, batch, key: model(batch, key))


class ShardedMatchesSingleDeviceTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.batch = toy_data.toy_batch(LAYOUT, N_TICKS, BATCH)
    cls.key = jax.random.key(7)
    cls.reference = {}

  def _model(self, impl, n_experts):
    with nnx.use_eager_sharding(False):
      return model_lib.InteractionModel(LAYOUT, model_config(impl, n_experts), rngs=nnx.Rngs(0))

  def _reference(self, impl, n_experts):
    if (impl, n_experts) not in self.reference:
      self.reference[impl, n_experts] = _loss_and_grads(self._model(impl, n_experts), self.batch,
                                                        self.key)
    return self.reference[impl, n_experts]

  def _shard(self, model, mesh):
    graphdef, state = nnx.split(model)
    state = jax.device_put(state, sharding.state_shardings(state, mesh, RULES))
    batch = jax.device_put(self.batch, sharding.batch_sharding(mesh, RULES))
    return nnx.merge(graphdef, state), batch

  def _assert_match(self, actual, expected):
    (losses, grads), (ref_losses, ref_grads) = actual, expected
    self.assertEqual(set(losses), set(ref_losses))
    for name in ref_losses:
      test_base.assert_close(losses[name], ref_losses[name], jnp.float32, REDUCTION_LEN)
    ref_leaves = jax.tree_util.tree_leaves_with_path(ref_grads)
    leaves = jax.tree.leaves(grads)
    self.assertLen(leaves, len(ref_leaves))
    for (path, expected_leaf), leaf in zip(ref_leaves, leaves):
      with self.subTest(grad=jax.tree_util.keystr(path)):
        test_base.assert_close(leaf, expected_leaf, jnp.float32, REDUCTION_LEN)

  @parameterized.named_parameters(*((name, name, "xla") for name in STRATEGIES
                                    if name != "dp_cp_tp_sp"),
                                  ("dp_cp_tp_sp_pallas", "dp_cp_tp_sp", "pallas"))
  def test_losses_and_grads(self, strategy, impl):
    sizes, n_experts = STRATEGIES[strategy]
    mesh = make_mesh(sizes)
    model, batch = self._shard(self._model(impl, n_experts), mesh)
    with sharding.use(mesh, RULES):
      sharding.check_sharded(model, mesh, min_size=6000)
      actual = _loss_and_grads(model, batch, self.key)
    self._assert_match(actual, self._reference(impl, n_experts))

  def test_pallas_residual_stream_is_sequence_parallel(self):
    mesh = make_mesh(dict(data=2, sequence=2, tensor=2))
    model, batch = self._shard(self._model("pallas", 0), mesh)
    with sharding.use(mesh, RULES):
      h_bld = _hidden_jit(model, batch)
    expected = jax.NamedSharding(mesh, jax.P(("data", "fsdp", "expert"), ("sequence", "tensor")))
    self.assertTrue(h_bld.sharding.is_equivalent_to(expected, 3), msg=str(h_bld.sharding))
    self.assertEqual(h_bld.addressable_shards[0].data.shape,
                     (BATCH // 2, N_TICKS * LAYOUT.tick_len // 4, 32))

  def test_pallas_data_like_sharding_gives_the_single_device_bits(self):
    # Batch-invariant kernels, FSDP gathers and expert parallelism's exact psum:
    # a token's log-prob does not depend on which device computed it.
    mesh = make_mesh(dict(data=2, fsdp=2, expert=2))
    model, batch = self._shard(self._model("pallas", 4), mesh)
    with sharding.use(mesh, RULES):
      _, logprobs = _forward(model, batch, self.key)
    _, expected = _forward(self._model("pallas", 4), self.batch, self.key)
    self.assertTrue(jnp.any(expected != 0))
    np.testing.assert_array_equal(logprobs, expected)

  def test_no_rules_under_a_mesh_is_an_error(self):
    mesh = make_mesh(dict(data=8))
    model, batch = self._shard(self._model("xla", 0), mesh)
    with jax.set_mesh(mesh), self.assertRaisesRegex(ValueError, "no logical axis rules"):
      _hidden(model, batch)


if __name__ == "__main__":
  absltest.main()
