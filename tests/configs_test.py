"""Every config file loads with every variant it documents, and flags override it."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import glob
import importlib.util
import os

from absl import flags
from absl.testing import absltest
import ml_collections
from ml_collections import config_flags

import interaction
from data_pipelines import pipeline
from data_pipelines import stream

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_FILES = sorted(p for p in glob.glob(os.path.join(_REPO, "experiments", "configs", "*.py"))
                      if not p.endswith("__init__.py"))


def _load(path: str):
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


class ConfigFilesTest(absltest.TestCase):

  def test_there_are_config_files(self):
    self.assertNotEmpty(CONFIG_FILES)

  def test_every_variant_of_every_file_loads(self):
    for path in CONFIG_FILES:
      module = _load(path)
      self.assertNotEmpty(module.VARIANTS, msg=path)
      self.assertIn("tiny", module.VARIANTS, msg=f"{path} must offer a CPU-sized 'tiny'")
      for variant in module.VARIANTS:
        with self.subTest(config=os.path.basename(path), variant=variant):
          config = module.get_config(variant)
          self.assertIsInstance(config, ml_collections.ConfigDict)
          self.assertIn(variant, module.__doc__)
          if "stream" in config:
            stream.TickLayout.from_config(config.stream)
          if "data" in config:
            pipeline.DataSpec.from_config(config.data)
          if "model" in config:
            interaction.ModelConfig.from_config(config.model)
      with self.assertRaisesRegex(ValueError, "unknown variant"):
        module.get_config("no_such_variant")


class ConfigFlagsTest(absltest.TestCase):
  """The launcher convention: --config=FILE:variant --config.x.y=v --workdir=DIR."""

  def _parse(self, *args):
    path = os.path.join(_REPO, "experiments", "configs", "interaction.py")
    argv = ["launcher", f"--config={path}:tiny", *args]
    values = flags.FlagValues()
    holder = config_flags.DEFINE_config_file("config", None, "config", flag_values=values,
                                             lock_config=True, sys_argv=argv)
    flags.DEFINE_string("workdir", None, "output dir", flag_values=values)
    values(argv)
    return holder.value, values.workdir

  def test_overrides_and_workdir(self):
    config, workdir = self._parse("--config.stream.text_out_tokens=8", "--config.seed=3",
                                  "--workdir=/tmp/run")
    self.assertEqual(config.stream.text_out_tokens, 8)
    self.assertEqual(config.seed, 3)
    self.assertEqual(config.variant, "tiny")
    self.assertEqual(workdir, "/tmp/run")
    self.assertEqual(stream.TickLayout.from_config(config.stream).text_out_tokens, 8)

  def test_unknown_field_is_rejected(self):
    with self.assertRaises(Exception) as raised:
      self._parse("--config.stream.no_such_field=1")
    self.assertIn("no_such_field", str(raised.exception))


if __name__ == "__main__":
  absltest.main()
