"""Mixture-of-experts feed-forward: top-k routing, dropless, fixed-order combine.

Routing is per token: router logits are a `pk.matmul` row, probabilities a
row-wise `pk.softmax`, the choice `lax.top_k` (ties to the lower expert id).
Dropless: there is no capacity, every token gets all of its top-k experts
whatever the other tokens chose (capacity-based dropping would make a token's
output depend on the batch). This implementation evaluates every expert on
every token and combines the selected ones in ascending expert order with
their renormalized top-k weights (0 for the others), so a token's output
depends only on that token: batch invariant under impl="pallas". It costs
n_experts dense FFNs; a grouped (sorted-by-expert) dispatch that keeps the
combine order is the accelerator optimisation still to do.
"""

import jax
import jax.numpy as jnp
from flax import nnx

import pallas_kernels as pk
from interaction import config as config_lib
from interaction import layers
from interaction import params


def load_balance_loss(probs_ne: jax.Array, chosen_nk: jax.Array) -> jax.Array:
  """Switch-style `E * Σ_e f_e · P_e` over N tokens; 1 at uniform routing.

  f_e: fraction of the N*k assignments that went to expert e; P_e: mean router
  probability of e. Uniform assignments and probabilities give exactly 1;
  concentrating both on fewer experts raises it (up to E).
  """
  n_experts = probs_ne.shape[-1]
  assigned_e = jnp.sum(jax.nn.one_hot(chosen_nk, n_experts, dtype=jnp.float32), axis=(0, 1))
  fraction_e = assigned_e / chosen_nk.size
  return n_experts * jnp.sum(fraction_e * jnp.mean(probs_ne, axis=0))


def router_z_loss(logits_ne: jax.Array, log_probs_ne: jax.Array) -> jax.Array:
  """Mean squared log-partition `logsumexp(logits)²` (ST-MoE), from the log-softmax.

  logsumexp = logits - log_softmax (any column), so no transcendental runs
  outside the kernels. Minimal (0) when logsumexp is 0, e.g. uniform logits -log E.
  """
  lse_n = logits_ne[:, 0] - log_probs_ne[:, 0]
  return jnp.mean(lse_n * lse_n)


class MoEFFN(nnx.Module):
  """`x [..., d_model] → ([..., d_model], {"load_balance", "router_z"})`."""

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    e, d, f = cfg.n_experts, cfg.d_model, cfg.d_ff
    self.router = layers.Linear(d, e, ("embed", None), cfg, rngs=rngs)
    self.up = params.param(rngs, (e, d, f), ("experts", "embed", "mlp"), scale=d ** -0.5)
    self.down = params.param(rngs, (e, f, d), ("experts", "mlp", "embed"), scale=f ** -0.5)
    self.cfg = cfg

  def route(self, x_nd: jax.Array) -> tuple[jax.Array, jax.Array, dict[str, jax.Array]]:
    """Returns top-k expert ids [N, k], their renormalized weights [N, k] and aux losses."""
    kargs = self.cfg.kernel_args
    logits_ne = self.router(x_nd)
    probs_ne = pk.softmax(logits_ne, **kargs)
    weights_nk, chosen_nk = jax.lax.top_k(probs_ne, self.cfg.top_k)
    weights_nk = weights_nk / jnp.sum(weights_nk, axis=-1, keepdims=True)
    aux = {"load_balance": load_balance_loss(probs_ne, chosen_nk),
           "router_z": router_z_loss(logits_ne, pk.log_softmax(logits_ne, **kargs))}
    return chosen_nk, weights_nk, aux

  def __call__(self, x: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    kargs = self.cfg.kernel_args
    x_nd = x.reshape(-1, x.shape[-1])
    chosen_nk, weights_nk, aux = self.route(x_nd)
    # [N, E]: the combine weight of each expert (0 where not chosen).
    gate_ne = jnp.sum(jax.nn.one_hot(chosen_nk, self.cfg.n_experts, dtype=x.dtype)
                      * weights_nk[..., None], axis=1)
    y_nd = jnp.zeros_like(x_nd)
    for e in range(self.cfg.n_experts):  # fixed ascending order.
      h_nf = pk.silu(pk.matmul(x_nd, self.up[e], **kargs), **kargs)
      y_nd = y_nd + gate_ne[:, e:e + 1] * pk.matmul(h_nf, self.down[e], **kargs)
    return y_nd.reshape(x.shape), aux
