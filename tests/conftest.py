"""pytest set-up: every test process gets 8 fake CPU devices before JAX starts."""

from tests import testing  # noqa: F401  (configures JAX on import)
