"""All five packages import and expose their public names (a Bazel smoke test
that touches every package's BUILD target)."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import importlib

from absl.testing import absltest
from absl.testing import parameterized

PACKAGES = ("interaction", "pallas_kernels", "experiments", "data_pipelines", "eval")


class PackagesTest(parameterized.TestCase):

  @parameterized.parameters(*PACKAGES)
  def test_imports_with_a_docstring(self, name):
    module = importlib.import_module(name)
    self.assertTrue(module.__doc__ and module.__doc__.strip(), msg=f"{name} has no docstring")

  def test_stream_format_is_public(self):
    import data_pipelines  # pylint: disable=g-import-not-at-top
    for name in ("TickLayout", "TickInputs", "TickOutputs", "PackedTicks", "Slot", "MelSpec",
                 "audio", "text", "video"):
      self.assertTrue(hasattr(data_pipelines, name), msg=name)


if __name__ == "__main__":
  absltest.main()
