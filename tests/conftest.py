"""pytest set-up, once per process.

Gives JAX 8 fake CPU devices before it starts, and marks absl flags as parsed
with their defaults (absltest helpers such as create_tempdir and libraries
such as grain read flags; under Bazel, absltest.main parses them instead).
"""

from absl import flags

from tests import testing  # noqa: F401  (configures JAX on import)

flags.FLAGS.mark_as_parsed()
