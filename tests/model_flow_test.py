"""Flow-matching head: learns a toy 2-D distribution; more Euler steps are no worse."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from interaction import config as config_lib
from interaction import flow

N = 1024
# Sliced 1-Wasserstein distance over 16 fixed directions. Two independent
# 1024-sample draws of the target give ~0.01; the noise the sampler starts
# from gives ~0.45; a 1-step sampler (which collapses the two modes toward
# their mean) gave ~0.6 and 32 steps ~0.04 (measured). 0.1 therefore demands
# the two modes be resolved, with room for seed-to-seed variation.
THRESHOLD = 0.1
_DIRECTIONS = np.stack([np.cos(np.linspace(0, np.pi, 16, endpoint=False)),
                        np.sin(np.linspace(0, np.pi, 16, endpoint=False))], 1)


def _target(key, n=N):
  """Two Gaussian blobs at (±1, 0.5·sign), std 0.15."""
  sign_key, noise_key = jax.random.split(key)
  sign = jnp.where(jax.random.bernoulli(sign_key, 0.5, (n, 1)), 1.0, -1.0)
  return sign * jnp.array([1.0, 0.5]) + 0.15 * jax.random.normal(noise_key, (n, 2))


def sliced_w1(a, b):
  pa, pb = np.sort(np.asarray(a) @ _DIRECTIONS.T, 0), np.sort(np.asarray(b) @ _DIRECTIONS.T, 0)
  return float(np.mean(np.abs(pa - pb)))


class FlowHeadTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cfg = config_lib.ModelConfig(flow_dim=64, flow_layers=2, impl="xla")
    with nnx.use_eager_sharding(False):
      head = flow.FlowHead(2, 4, cfg, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(head, optax.adam(1e-2), wrt=nnx.Param)
    cond = jnp.zeros((256, 4))
    graphdef, state = nnx.split((head, optimizer))

    def step(state, key):
      head, optimizer = nnx.merge(graphdef, state)
      data_key, flow_key = jax.random.split(key)
      loss_fn = lambda h: h.loss(cond, _target(data_key, 256), jnp.ones(256, bool), flow_key)
      loss, grads = nnx.value_and_grad(loss_fn)(head)
      optimizer.update(head, grads)
      return nnx.state((head, optimizer)), loss

    # All 600 steps in one compiled scan (one dispatch instead of 600).
    keys = jax.vmap(jax.random.key)(jnp.arange(600))
    state, losses = jax.jit(lambda state: jax.lax.scan(step, state, keys))(state)
    nnx.update((head, optimizer), state)
    cls.losses = np.asarray(losses).tolist()  # Iterating the jax array compiles an unstack.
    cls.head = head

  def _distance(self, n_steps):
    # Eager: the sampler unrolls its Euler steps, so jitting it would compile 37 copies
    # of the velocity MLP (1 + 4 + 32 steps); op by op, each op compiles once.
    sample = self.head.sample(jnp.zeros((N, 4)), jax.random.key(7), n_steps)
    return sliced_w1(sample, _target(jax.random.key(8)))

  def test_loss_decreases(self):
    # The first step predicts v = 0 (zero-initialized output layer), so its loss
    # is E|x1 - x0|² / 2 ≈ 1.6; the rectified-flow loss keeps a floor > 0.
    self.assertLess(np.mean(self.losses[-100:]), 0.7 * self.losses[0])

  def test_learns_the_distribution_and_more_steps_are_no_worse(self):
    reference = sliced_w1(_target(jax.random.key(1)), _target(jax.random.key(2)))
    distances = {n: self._distance(n) for n in (1, 4, 32)}
    self.assertLess(reference, 0.05)
    self.assertLess(distances[32], THRESHOLD, msg=str(distances))
    self.assertLessEqual(distances[32], distances[1] + 0.01, msg=str(distances))
    self.assertLessEqual(distances[32], distances[4] + 0.01, msg=str(distances))

  def test_bad_steps_and_shapes(self):
    with self.assertRaisesRegex(ValueError, r"n_steps must be an int in \[1, 32\]"):
      self.head.sample(jnp.zeros((2, 4)), jax.random.key(0), 33)
    with self.assertRaisesRegex(ValueError, r"flow targets must have shape \[3, 2\]"):
      self.head.loss(jnp.zeros((3, 4)), jnp.zeros((3, 5)), jnp.ones(3, bool), jax.random.key(0))


if __name__ == "__main__":
  absltest.main()
