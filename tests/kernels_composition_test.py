"""The kernels composed into a toy decoder layer: whole-sequence pass == streaming.

A miniature of the project's trainer = sampler property, at kernel level: one
pre-norm attention + SiLU-MLP layer and a log-softmax head over 384 tokens,
run over a whole sequence (trainer) and chunk by chunk against a KV cache
(sampler), beside other sessions of other lengths.
"""

from tests import testing  # isort: skip  (must configure JAX first)

import functools

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

import pallas_kernels as pk
from pallas_kernels import test_base

D_MODEL, HEADS, KV_HEADS, HEAD_DIM, D_FF, VOCAB = 64, 4, 2, 16, 128, 384
BLOCKS = pk.BlockSizes(attention_q=16, attention_kv=16)
T, CAPACITY = 30, 48


def _params():
  shapes = {"wq": (D_MODEL, HEADS * HEAD_DIM), "wk": (D_MODEL, KV_HEADS * HEAD_DIM),
            "wv": (D_MODEL, KV_HEADS * HEAD_DIM), "wo": (HEADS * HEAD_DIM, D_MODEL),
            "w_up": (D_MODEL, D_FF), "w_down": (D_FF, D_MODEL), "w_head": (D_MODEL, VOCAB)}
  return {name: test_base.random(i, shape, jnp.float32, scale=shape[0] ** -0.5)
          for i, (name, shape) in enumerate(shapes.items())}


@functools.partial(jax.jit, static_argnames="impl")
def _step(params, x_btd, k_cache, v_cache, start_b, *, impl):
  """Runs a chunk at positions start_b + i; returns log-probs and updated caches."""
  b, t, _ = x_btd.shape
  ops = dict(impl=impl, blocks=BLOCKS)
  norm = lambda x: pk.rms_norm(x, jnp.ones((D_MODEL,)), impl=impl, blocks=BLOCKS)
  h = norm(x_btd)
  positions = start_b[:, None] + jnp.arange(t)
  table = pk.rope_table(CAPACITY, HEAD_DIM)
  q = pk.apply_rope(pk.matmul(h, params["wq"], **ops).reshape(b, t, HEADS, HEAD_DIM),
                    positions, table)
  k = pk.apply_rope(pk.matmul(h, params["wk"], **ops).reshape(b, t, KV_HEADS, HEAD_DIM),
                    positions, table)
  v = pk.matmul(h, params["wv"], **ops).reshape(b, t, KV_HEADS, HEAD_DIM)
  write = jax.vmap(lambda cache, new, s: jax.lax.dynamic_update_slice(cache, new, (s, 0, 0)))
  k_cache, v_cache = write(k_cache, k, start_b), write(v_cache, v, start_b)
  attn = pk.attention(q, k_cache, v_cache, q_start=start_b, kv_len=start_b + t, **ops)
  x_btd = x_btd + pk.matmul(attn.reshape(b, t, -1), params["wo"], **ops)
  mlp = pk.silu(pk.matmul(norm(x_btd), params["w_up"], **ops), impl=impl, blocks=BLOCKS)
  x_btd = x_btd + pk.matmul(mlp, params["w_down"], **ops)
  logits = pk.matmul(norm(x_btd), params["w_head"], **ops)
  return pk.log_softmax(logits, impl=impl, blocks=BLOCKS), k_cache, v_cache


class ComposedLayerTest(parameterized.TestCase):

  def run_stream(self, impl, x_btd, chunk):
    b = x_btd.shape[0]
    cache = jnp.zeros((b, CAPACITY, KV_HEADS, HEAD_DIM))
    k_cache, v_cache, outs = cache, cache, []
    for start in range(0, x_btd.shape[1], chunk):
      logp, k_cache, v_cache = _step(_params(), x_btd[:, start:start + chunk], k_cache,
                                     v_cache, jnp.full((b,), start, jnp.int32), impl=impl)
      outs.append(np.asarray(logp))
    return np.concatenate(outs, axis=1)

  @parameterized.parameters(1, 7, 16)
  def test_trainer_equals_sampler(self, chunk):
    x = test_base.random(20, (3, T, D_MODEL), jnp.float32)
    whole = self.run_stream("pallas", x, T)  # the trainer: one pass, cache empty
    # The sampler: session 0 streamed alone, then beside two other sessions.
    np.testing.assert_array_equal(self.run_stream("pallas", x[:1], chunk), whole[:1])
    np.testing.assert_array_equal(self.run_stream("pallas", x, chunk), whole)

  def test_xla_path_is_close_but_not_bitwise(self):
    """Measured on XLA:CPU: the same composition with impl="xla" changes bits."""
    x = test_base.random(20, (3, T, D_MODEL), jnp.float32)
    whole = self.run_stream("xla", x, T)
    streamed = self.run_stream("xla", x[:1], 7)
    test_base.assert_close(streamed, whole[:1], jnp.float32, D_FF)
    if jax.default_backend() == "cpu":
      self.assertFalse(np.array_equal(streamed, whole[:1]))


if __name__ == "__main__":
  absltest.main()
