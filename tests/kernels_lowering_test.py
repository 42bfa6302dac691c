"""Every Pallas kernel lowers for TPU (Mosaic) and GPU (Triton) at the model's shapes.

Nothing runs: `jax.jit(f).trace(...).lower(lowering_platforms=...)` from this
CPU host checks block shapes and kernel bodies against each backend's lowering
rules (TPU (8, 128) tiling, Triton power-of-two tensors, supported primitives),
so a shape that only fails on hardware fails here. Mosaic's later compile
passes (layout assignment, VMEM limits) need the hardware and are not covered.
"""

from tests import testing  # isort: skip  (must configure JAX first)

import functools
import warnings

from absl.testing import absltest
from absl.testing import parameterized
import jax
from jax.experimental import pallas as pl
from jax.experimental.pallas import tpu as pltpu
import jax.numpy as jnp

import pallas_kernels as pk
from pallas_kernels import test_base

S = jax.ShapeDtypeStruct
I32 = jnp.int32
TARGETS = (("tpu", "tpu", "tpu_custom_call"), ("triton", "cuda", "__gpu$xla.gpu.triton"))
DTYPES = (jnp.float32, jnp.bfloat16)


def _lower(fn, args, backend, platform):
  with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "The Pallas Triton backend is deprecated")
    with test_base.abstract_target(platform):
      lowered = jax.jit(functools.partial(fn, backend=backend)).trace(*args).lower(
          lowering_platforms=(platform,))
  return lowered.as_text()


# (name, fn, argument shapes); tiny CPU config (d=64) to ~2048, decode and training.
def _cases(dtype):
  attn = lambda window: (lambda q, k, v, s, n, backend: pk.attention(
      q, k, v, q_start=s, kv_len=n, window=window, impl="pallas", backend=backend))
  row = lambda op: (lambda x, backend: getattr(pk, op)(x, impl="pallas", backend=backend))
  return [
      ("matmul_decode_d64", lambda x, w, backend: pk.matmul(x, w, impl="pallas", backend=backend),
       (S((4, 1, 64), dtype), S((64, 192), dtype))),
      ("matmul_train_d2048", lambda x, w, backend: pk.matmul(x, w, impl="pallas", backend=backend),
       (S((2, 320, 2048), dtype), S((2048, 5632), dtype))),
      ("rms_norm_d64", lambda x, g, backend: pk.rms_norm(x, g, impl="pallas", backend=backend),
       (S((4, 40, 64), dtype), S((64,), jnp.float32))),
      ("rms_norm_d2048", lambda x, g, backend: pk.rms_norm(x, g, impl="pallas", backend=backend),
       (S((4, 1, 2048), dtype), S((2048,), jnp.float32))),
      ("log_softmax_vocab384", row("log_softmax"), (S((4, 40, 384), dtype),)),
      ("softmax_router8", row("softmax"), (S((160, 8), dtype),)),
      ("silu_ff5632", row("silu"), (S((2, 40, 5632), dtype),)),
      ("gelu_ff256", row("gelu"), (S((2, 40, 256), dtype),)),
      ("attention_prefill_hd16", attn(None),
       (S((2, 200, 4, 16), dtype), S((2, 256, 2, 16), dtype), S((2, 256, 2, 16), dtype),
        S((2,), I32), S((2,), I32))),
      ("attention_chunk_hd64_window", attn(128),
       (S((2, 40, 8, 64), dtype), S((2, 1000, 2, 64), dtype), S((2, 1000, 2, 64), dtype),
        S((2,), I32), S((2,), I32))),
      ("attention_decode_hd128", attn(None),
       (S((8, 1, 16, 128), dtype), S((8, 4096, 4, 128), dtype),
        S((8, 4096, 4, 128), dtype), S((8,), I32), S((8,), I32))),
  ]


class LoweringTest(parameterized.TestCase):

  @parameterized.product(target=TARGETS, dtype=DTYPES)
  def test_model_shapes_lower(self, target, dtype):
    backend, platform, custom_call = target
    for name, fn, args in _cases(dtype):
      with self.subTest(name):
        self.assertIn(custom_call, _lower(fn, args, backend, platform))

  def test_tpu_lowering_rejects_a_bad_block(self):
    """The check is real: a (4, 64) f32 block violates TPU's (8, 128) tiling."""
    def copy(x_ref, y_ref):
      y_ref[...] = x_ref[...]

    def fn(x, backend):
      del backend
      return pl.pallas_call(
          copy, out_shape=x, grid=(4, 4),
          in_specs=[pl.BlockSpec((4, 64), lambda i, j: (i, j))],
          out_specs=pl.BlockSpec((4, 64), lambda i, j: (i, j)),
          compiler_params=pltpu.CompilerParams())(x)

    with self.assertRaisesRegex(Exception, "divisible by 8 and 128"):
      _lower(fn, (S((16, 256), jnp.float32),), "tpu", "tpu")


if __name__ == "__main__":
  absltest.main()
