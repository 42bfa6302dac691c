"""Mesh from config, the rules table, sharded model creation, replication check, batch sharding."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from flax import nnx
import jax
import ml_collections
import numpy as np

from data_pipelines.stream import TickLayout
from experiments.configs import interaction as interaction_config
from interaction import config as config_lib
from interaction import params
from interaction import sharding

LAYOUT = TickLayout(frames_per_audio_token=2, video_height=40, video_width=40,
                    text_in_tokens=2, bg_in_tokens=2, text_out_tokens=3)
CFG = config_lib.ModelConfig(d_model=32, n_layers=1, n_heads=4, n_kv_heads=2, head_dim=8,
                             d_ff=32, n_experts=2, top_k=1, hmlp_dims=(8, 16), flow_dim=32,
                             flow_layers=1)


def mesh_config(**sizes) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.mesh = ml_collections.ConfigDict(
      dict(dict(data=1, fsdp=1, expert=1, sequence=1, tensor=1), **sizes))
  return config


def param_leaves(model):
  return {sharding._path_name(p): v for p, v in jax.tree_util.tree_leaves_with_path(
      nnx.state(model, nnx.Param), is_leaf=lambda x: isinstance(x, nnx.Variable))}


class MeshTest(absltest.TestCase):

  def test_sizes_and_the_rest(self):
    mesh = sharding.make_mesh(mesh_config(data=-1, tensor=2))
    self.assertEqual(dict(mesh.shape), dict(data=4, fsdp=1, expert=1, sequence=1, tensor=2))
    self.assertEqual(mesh.axis_names, sharding.MESH_AXES)
    mesh = sharding.make_mesh(mesh_config(fsdp=2), devices=jax.devices()[:2])
    self.assertEqual(mesh.size, 2)

  def test_bad_sizes(self):
    for sizes, message in [(dict(data=-1, fsdp=-1), "only one mesh axis may be -1"),
                           (dict(data=3), "multiply to 3, but there are 8"),
                           (dict(data=-1, tensor=3), "3 does not divide the 8"),
                           (dict(tensor=0), "mesh.tensor must be >= 1")]:
      with self.subTest(sizes=sizes), self.assertRaisesRegex(ValueError, message):
        sharding.make_mesh(mesh_config(**sizes))
    config = mesh_config()
    del config.mesh["sequence"]
    with self.assertRaisesRegex(ValueError, "no size for axis 'sequence'"):
      sharding.make_mesh(config)

  def test_every_variant_has_a_mesh_and_the_rules(self):
    for variant in interaction_config.VARIANTS:
      config = interaction_config.get_config(variant)
      self.assertEqual(sharding.make_mesh(config).size, jax.device_count())
      self.assertEqual(sharding.logical_rules(config), params.DEFAULT_RULES)

  def test_bad_rules(self):
    for rules, message in [((("embed", "tensr"),), r"names mesh axes \['tensr'\]"),
                           ((("embed", None), ("embed", "fsdp")), "'embed' has two rules"),
                           ((("embed",),), "must be \\(logical name, mesh axes\\)")]:
      config = mesh_config(data=-1)
      config.mesh.rules = rules
      with self.subTest(rules=rules), self.assertRaisesRegex(ValueError, message):
        sharding.logical_rules(config)


class CreateModelTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.mesh = sharding.make_mesh(mesh_config(fsdp=2, expert=2, tensor=2))
    cls.model = sharding.create_model(LAYOUT, CFG, cls.mesh, params.DEFAULT_RULES, seed=3)

  def test_params_follow_the_rules(self):
    leaves = param_leaves(self.model)
    expected = {
        "decoder/blocks/0/attn/q/kernel": jax.P("fsdp", "tensor"),
        "decoder/blocks/0/attn/o/kernel": jax.P("tensor", "fsdp"),
        "decoder/blocks/0/attn_norm/scale": jax.P("fsdp"),
        "decoder/blocks/0/ffn/up": jax.P("expert", "fsdp", "tensor"),
        "decoder/blocks/0/ffn/down": jax.P("expert", "tensor", "fsdp"),
        "embed/tokens": jax.P("tensor", "fsdp"),
        "text_head/proj/kernel": jax.P("fsdp", "tensor"),
        "embed/audio/tables": jax.P(None, None, None),
    }
    for name, spec in expected.items():
      with self.subTest(name=name):
        self.assertEqual(leaves[name].get_value().sharding.spec, spec)
        self.assertEqual(leaves[name].get_value().sharding.mesh, self.mesh)

  def test_values_do_not_depend_on_the_mesh(self):
    one = sharding.make_mesh(mesh_config(), devices=jax.devices()[:1])
    single = param_leaves(sharding.create_model(LAYOUT, CFG, one, params.DEFAULT_RULES, seed=3))
    for name, var in param_leaves(self.model).items():
      np.testing.assert_array_equal(var.get_value(), single[name].get_value(), err_msg=name)

  def test_check_sharded(self):
    sharding.check_sharded(self.model, self.mesh, min_size=6000)
    with self.assertRaisesRegex(ValueError, r"embed/tokens \(384, 32\) axes=\('vocab', 'embed'\)"):
      replicated = nnx.clone(self.model)
      tokens = replicated.embed.tokens
      tokens.set_value(jax.device_put(tokens.get_value(), jax.NamedSharding(self.mesh, jax.P())))
      sharding.check_sharded(replicated, self.mesh, min_size=6000)
    data_only = sharding.make_mesh(mesh_config(data=-1))
    sharding.check_sharded(replicated, data_only, min_size=1)  # replication is intended.

  def test_check_sharded_under_expert_parallelism(self):
    mesh = sharding.make_mesh(mesh_config(data=4, expert=2))
    graphdef, state = nnx.split(self.model)
    state = jax.device_put(state, sharding.state_shardings(state, mesh, params.DEFAULT_RULES))
    model = nnx.merge(graphdef, state)
    sharding.check_sharded(model, mesh, min_size=1)  # only the experts are meant to be sharded.
    up = model.decoder.blocks[0].ffn.up
    up.set_value(jax.device_put(up.get_value(), jax.NamedSharding(mesh, jax.P())))
    with self.assertRaisesRegex(ValueError, r"1 parameter\(s\).*ffn/up \(2, 32, 32\)"):
      sharding.check_sharded(model, mesh, min_size=1)

  def test_indivisible_param_is_named(self):
    mesh = sharding.make_mesh(mesh_config(tensor=8))
    with self.assertRaisesRegex(ValueError, "attn/k/kernel of shape \\(32, 4\\): dim 'kv_heads'"):
      sharding.create_model(LAYOUT, CFG.__class__(**dict(CFG.__dict__, head_dim=2)), mesh,
                            params.DEFAULT_RULES, seed=0)

  def test_batch_sharding(self):
    s = sharding.batch_sharding(self.mesh)
    self.assertEqual(s.spec, jax.P(("data", "fsdp", "expert")))
    x = jax.device_put(np.zeros((8, 5, 3), np.float32), s)
    self.assertEqual(x.addressable_shards[0].data.shape, (2, 5, 3))


if __name__ == "__main__":
  absltest.main()
