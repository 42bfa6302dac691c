"""Batch-invariant kernels with XLA references: matmul, RMSNorm, attention and more.

Every op takes `impl="xla"` (plain jnp: the test oracle and the fast path, not
batch invariant) or `impl="pallas"` (batch invariant; cache invariant for
attention), plus optional `backend=` ("interpret", "tpu", "triton"; default by
device) and `blocks=` (a `BlockSizes`, which must be identical wherever bits
are compared). See README.md in this folder.
"""

from pallas_kernels.attention import attention
from pallas_kernels.attention_xla import attention_reference
from pallas_kernels.attention_xla import attention_whole_sequence
from pallas_kernels.config import BlockSizes
from pallas_kernels.config import DEFAULT_BLOCKS
from pallas_kernels.elementwise import gelu
from pallas_kernels.elementwise import log_softmax
from pallas_kernels.elementwise import silu
from pallas_kernels.elementwise import softmax
from pallas_kernels.matmul import matmul
from pallas_kernels.matmul import matmul_reference
from pallas_kernels.platform import BACKENDS
from pallas_kernels.platform import resolve_backend
from pallas_kernels.rms_norm import rms_norm
from pallas_kernels.rms_norm import rms_norm_reference
from pallas_kernels.rope import apply_rope
from pallas_kernels.rope import rope_table
