"""Block and split sizes of the batch-invariant kernels."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class BlockSizes:
  """Tile, row-block and key-split sizes shared by every Pallas kernel.

  These sizes define the numerics, not just the speed: a row's result depends
  on the shape of the tile it is computed in and on the order in which its
  reduction visits the blocks. They therefore must never depend on the batch
  size, the number of rows, the query chunk length or the KV-cache capacity.
  Pick one instance per deployment and give the very same instance to the
  trainer and to the sampler; inputs are padded to these sizes, tiles are never
  adapted to a shape. Changing a value changes the bits of every result (still
  within the documented tolerance of the XLA reference).

  All values must be powers of two (the GPU Triton lowering requires it), and
  row blocks multiples of 16 so that bf16 tiles also fit the TPU's (16, 128)
  packed layout.

  Attributes:
    matmul_m: rows of x per output tile; M is padded to a multiple of it.
    matmul_n: columns of w per output tile; N is padded to a multiple of it.
    matmul_k: step of the K loop inside one program; K is padded to a multiple
      of it and reduced in ascending order, never split across programs.
    rows: rows per program of the row-wise kernels (RMSNorm, log-softmax,
      softmax, SiLU, GELU); the row count is padded to a multiple of it.
    attention_q: queries per program. Query tiles are aligned to absolute
      position 0, so a query at position p always sits in row p % attention_q
      of its tile, whatever the chunk it came with.
    attention_kv: keys per split. Splits are aligned to absolute position 0
      and combined left to right with an online softmax.
  """

  matmul_m: int = 128
  matmul_n: int = 128
  matmul_k: int = 128
  rows: int = 16
  attention_q: int = 32
  attention_kv: int = 128

  def __post_init__(self):
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if not isinstance(value, int) or value < 16 or value & (value - 1):
        raise ValueError(
            f"BlockSizes.{field.name} must be a power of two >= 16, got {value!r}")


DEFAULT_BLOCKS = BlockSizes()
