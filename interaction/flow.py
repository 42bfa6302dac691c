"""Flow-matching head: a small adaLN MLP that turns a condition vector into a sample.

Rectified flow (Liu et al. 2022): x_t = (1 - t)·x0 + t·x1 with x0 ~ N(0, I)
noise and x1 the target; the head predicts the velocity x1 - x0 from
(x_t, t, condition) and is trained with the mean squared error. Sampling
integrates dx/dt = v from t = 0 to 1 with 1–32 Euler steps.

The time embedding is `silu(t · w + b)` (a learned map of the scalar t, no
sinusoid: sin/cos are transcendentals that would run outside the kernels).
Every matmul, norm and activation goes through `pallas_kernels`.

Dtype: the velocity MLP runs in its parameters' dtype (its inputs are rounded
to it; bfloat16 when the trainer casts the parameters for bf16 compute). The
noise, the times, the interpolation x_t, the regression target and the loss
with its reductions stay float32, and so does the Euler state in `integrate`.
For float32 parameters every cast is a no-op.
"""

import jax
import jax.numpy as jnp
from flax import nnx

import pallas_kernels as pk
from interaction import config as config_lib
from interaction import layers
from interaction import sharded_kernels

MAX_EULER_STEPS = 32


class AdaLNBlock(nnx.Module):
  """`x + gate ⊙ mlp(norm(x) ⊙ (1 + scale) + shift)`; (shift, scale, gate) from the condition."""

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    f = cfg.flow_dim
    self.ada = layers.Linear(f, 3 * f, ("features", "mlp"), cfg, rngs=rngs, bias=True, scale=0.0)
    self.up = layers.Linear(f, f, ("features", "mlp"), cfg, rngs=rngs, bias=True)
    self.down = layers.Linear(f, f, ("mlp", "features"), cfg, rngs=rngs, bias=True)
    self.cfg = cfg

  def __call__(self, x_nf: jax.Array, c_nf: jax.Array) -> jax.Array:
    kargs = self.cfg.kernel_args
    shift, scale, gate = jnp.split(self.ada(c_nf), 3, axis=-1)
    h_nf = sharded_kernels.rms_norm(x_nf, jnp.ones(x_nf.shape[-1:], x_nf.dtype), kargs)
    h_nf = self.down(sharded_kernels.rowwise(pk.silu, self.up(h_nf * (1.0 + scale) + shift),
                                             kargs, "mlp"))
    return x_nf + gate * h_nf


class FlowHead(nnx.Module):
  """Velocity field `v(x_t [N, out_dim], t [N], cond [N, cond_dim]) → [N, out_dim]`."""

  def __init__(self, out_dim: int, cond_dim: int, cfg: config_lib.ModelConfig, *,
               rngs: nnx.Rngs):
    f = cfg.flow_dim
    self.out_dim = out_dim
    self.time = layers.Linear(1, f, (None, "features"), cfg, rngs=rngs, bias=True, scale=1.0)
    self.cond = layers.Linear(cond_dim, f, ("embed", "features"), cfg, rngs=rngs)
    self.inp = layers.Linear(out_dim, f, (None, "features"), cfg, rngs=rngs, bias=True)
    self.blocks = nnx.List([AdaLNBlock(cfg, rngs=rngs) for _ in range(cfg.flow_layers)])
    self.out = layers.Linear(f, out_dim, ("features", None), cfg, rngs=rngs, bias=True, scale=0.0)
    self.cfg = cfg

  def velocity(self, x_no: jax.Array, t_n: jax.Array, cond_nc: jax.Array) -> jax.Array:
    """The velocity `[N, out_dim]` in the parameters' dtype (x_t and t are rounded to it)."""
    kargs = self.cfg.kernel_args
    dtype = self.inp.kernel[...].dtype
    t_emb = sharded_kernels.rowwise(pk.silu, self.time(t_n[:, None].astype(dtype)), kargs)
    c_nf = sharded_kernels.rowwise(pk.silu, self.cond(cond_nc.astype(dtype)) + t_emb, kargs)
    h_nf = self.inp(x_no.astype(dtype))
    for block in self.blocks:
      h_nf = block(h_nf, c_nf)
    return self.out(h_nf)

  def loss(self, cond_nc: jax.Array, x1_no: jax.Array, mask_n: jax.Array,
           key: jax.Array) -> jax.Array:
    """Rectified-flow MSE averaged over rows with mask_n True (0 if none), in float32."""
    if x1_no.shape != (cond_nc.shape[0], self.out_dim):
      raise ValueError(f"flow targets must have shape [{cond_nc.shape[0]}, {self.out_dim}], "
                       f"got {x1_no.shape}")
    noise_key, time_key = jax.random.split(key)
    x1_no = x1_no.astype(jnp.float32)
    x0_no = jax.random.normal(noise_key, x1_no.shape, jnp.float32)
    t_n = jax.random.uniform(time_key, (x1_no.shape[0],), jnp.float32)
    xt_no = (1.0 - t_n[:, None]) * x0_no + t_n[:, None] * x1_no
    v_no = self.velocity(xt_no, t_n, cond_nc).astype(jnp.float32)
    err_n = jnp.mean((v_no - (x1_no - x0_no)) ** 2, axis=-1)
    mask_n = mask_n.astype(jnp.float32)
    return jnp.sum(err_n * mask_n) / jnp.maximum(jnp.sum(mask_n), 1.0)

  def sample(self, cond_nc: jax.Array, key: jax.Array, n_steps: int) -> jax.Array:
    """`[N, out_dim]` samples from N(0, I) noise drawn with `key`; see `integrate`."""
    x0_no = jax.random.normal(key, (cond_nc.shape[0], self.out_dim), jnp.float32)
    return self.integrate(cond_nc, x0_no, n_steps)

  def integrate(self, cond_nc: jax.Array, x0_no: jax.Array, n_steps: int) -> jax.Array:
    """Euler from the noise `x0_no [N, out_dim]` at t=0 to t=1 in `n_steps` equal steps.

    A row's result depends only on that row's noise and condition (every op is
    row-wise), so the sampler passes noise it drew per session and slot.
    """
    if not isinstance(n_steps, int) or not 1 <= n_steps <= MAX_EULER_STEPS:
      raise ValueError(f"n_steps must be an int in [1, {MAX_EULER_STEPS}], got {n_steps!r}")
    if x0_no.shape != (cond_nc.shape[0], self.out_dim):
      raise ValueError(f"flow noise must have shape [{cond_nc.shape[0]}, {self.out_dim}], "
                       f"got {x0_no.shape}")
    n = cond_nc.shape[0]
    x_no = x0_no
    for i in range(n_steps):
      t_n = jnp.full((n,), i / n_steps, jnp.float32)
      x_no = x_no + self.velocity(x_no, t_n, cond_nc) / n_steps
    return x_no
