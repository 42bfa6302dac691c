"""Mixture-of-experts feed-forward: top-k routing, dropless grouped dispatch, fixed-order combine.

Routing is per token: router logits are a `pk.matmul` row, probabilities a
row-wise `pk.softmax`, the choice `lax.top_k` (ties to the lower expert id),
its weights renormalized over the k chosen experts. Dropless: there is no
capacity, every token gets all of its top-k experts whatever the other tokens
chose (capacity-based dropping would make a token's output depend on the batch).

Grouped dispatch (`dispatch`, `expert_ffn`, `combine`). The N·k (token, expert)
assignments are copied into a row buffer sorted by expert: expert e's group
holds its c_e rows in token order, padded with zero rows to a multiple of the
block size bm = `blocks.matmul_m`, so every block of bm rows belongs to one
expert. Whatever the routing, the groups fit in the static bound

  R = bm · ⌊(N·k + G·(bm − 1)) / bm⌋ rows,  G = min(E, N·k) (non-empty groups),

because each group wastes fewer than bm rows; spare blocks at the end hold
zeros. A `lax.map` over the R / bm blocks runs `silu(x @ up[e]) @ down[e]` with
the block's expert e. Cost: R rows of one expert FFN (≈ N·k + E·bm) instead of
the N·E of evaluating every expert on every token, i.e. about k/E of it once
N·k ≫ E·bm. Memory: the [R, d_model] buffer plus one expert's weights per
step; the backward pass recomputes each block (`jax.checkpoint`: one more
expert forward) rather than keep every block's weight slices alive.
Shapes depend only on (N, k, E, bm), so nothing recompiles with the routing.
The blocks run one after another; a fused grouped-matmul kernel (the block →
expert map read by the weights' index map) would run them in parallel on an
accelerator, which is future work for `pallas_kernels`.
Each token's k outputs are then gathered back and summed as
`0 + w_1·y_1 + … + w_k·y_k` in ascending expert id, each product rounded
before it is added: exactly the float operations of the every-expert
reference, whose unchosen experts add zeros.

Batch invariance (impl="pallas"): which buffer rows a token lands in depends
on the other tokens, but nothing else does. `pk.matmul` and `pk.silu` are row
invariant (a row's bits depend on that row and the weights only, not on its
place in the tile or the row count), gathers and scatters move bits exactly,
and the combine is per token in a fixed order. So a token's output is
bit-identical whatever else is in the batch, and bit-identical to the
every-expert reference. impl="xla" matches that reference to float tolerance.

Expert parallelism: under a multi-device mesh `interaction.expert_parallel`
runs the same dispatch per expert group, each device only the blocks of its
own experts.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

import pallas_kernels as pk
from interaction import config as config_lib
from interaction import expert_parallel
from interaction import layers
from interaction import params
from interaction import partitioning
from interaction import sharded_kernels


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


class Dispatch(NamedTuple):
  """Where the assignments sit in the expert-sorted buffer of `n_blocks × block_rows` rows."""
  row_nk: jax.Array  # [N, k] int32: buffer row of token n's j-th expert.
  block_expert_b: jax.Array  # [n_blocks] int32: the expert every row of block b goes to.


def buffer_blocks(n_assignments: int, n_experts: int, block_rows: int) -> int:
  """Blocks of `block_rows` that hold any routing of `n_assignments` (the bound R / bm)."""
  groups = min(n_experts, n_assignments)
  return (n_assignments + groups * (block_rows - 1)) // block_rows


def dispatch(chosen_nk: jax.Array, n_experts: int, block_rows: int) -> Dispatch:
  """Lays out the assignments `chosen_nk [N, k]` by expert, groups padded to `block_rows`."""
  expert_a = chosen_nk.reshape(-1)  # [A = N·k], assignment a = n·k + j.
  n_assignments = expert_a.shape[0]
  count_e = jnp.zeros(n_experts, jnp.int32).at[expert_a].add(1)
  padded_e = (count_e + block_rows - 1) // block_rows * block_rows
  group_end_e = jnp.cumsum(padded_e)
  group_start_e = group_end_e - padded_e
  order_a = jnp.argsort(expert_a, stable=True)  # by expert, then token.
  expert_s = expert_a[order_a]  # [A] experts in sorted order.
  rank_s = jnp.arange(n_assignments, dtype=jnp.int32) - (jnp.cumsum(count_e) - count_e)[expert_s]
  row_a = jnp.zeros(n_assignments, jnp.int32).at[order_a].set(group_start_e[expert_s] + rank_s)
  n_blocks = buffer_blocks(n_assignments, n_experts, block_rows)
  block_start_b = jnp.arange(n_blocks, dtype=jnp.int32) * block_rows
  # Spare blocks past the last group compute zeros with the last expert.
  block_expert_b = jnp.minimum(jnp.searchsorted(group_end_e, block_start_b, side="right"),
                               n_experts - 1).astype(jnp.int32)
  return Dispatch(row_a.reshape(chosen_nk.shape), block_expert_b)


def expert_ffn(x_rd: jax.Array, block_expert_b: jax.Array, up_edf: jax.Array,
               down_efd: jax.Array, kernel_args: dict) -> jax.Array:
  """`silu(x @ up[e]) @ down[e]` for every block of rows of `x_rd`, e its block's expert."""
  n_blocks = block_expert_b.shape[0]
  x_bmd = x_rd.reshape(n_blocks, -1, x_rd.shape[-1])

  # Rematerialized: otherwise autodiff keeps every block's weight slices
  # (n_blocks × an expert's weights) alive for the backward pass.
  @jax.checkpoint
  def block(args):
    x_md, e = args
    h_mf = pk.silu(pk.matmul(x_md, up_edf[e], **kernel_args), **kernel_args)
    return pk.matmul(h_mf, down_efd[e], **kernel_args)

  return jax.lax.map(block, (x_bmd, block_expert_b)).reshape(x_rd.shape)


def combine(y_rd: jax.Array, row_nk: jax.Array, weights_nk: jax.Array) -> jax.Array:
  """`0 + Σ_j w_j · y[row_j]` per token, j in ascending expert order → [N, d]."""
  # The barrier rounds every product before it is added: without it XLA may
  # fuse a product and a sum into one FMA, and whether it does depends on the
  # surrounding program, so the trainer's and the sampler's bits could differ.
  weighted_nkd = jax.lax.optimization_barrier(weights_nk[..., None] * y_rd[row_nk])
  out_nd = jnp.zeros((row_nk.shape[0], y_rd.shape[1]), y_rd.dtype)
  for j in range(row_nk.shape[1]):
    out_nd = out_nd + weighted_nkd[:, j]
  return out_nd


class MoEFFN(nnx.Module):
  """`x [..., d_model] → ([..., d_model], {"load_balance", "router_z"})`."""

  def __init__(self, cfg: config_lib.ModelConfig, *, rngs: nnx.Rngs):
    e, d, f = cfg.n_experts, cfg.d_model, cfg.d_ff
    self.router = layers.Linear(d, e, ("embed", None), cfg, rngs=rngs)
    self.up = params.param(rngs, (e, d, f), ("experts", "embed", "mlp"), scale=d ** -0.5)
    self.down = params.param(rngs, (e, f, d), ("experts", "mlp", "embed"), scale=f ** -0.5)
    self.cfg = cfg

  def route(self, x_nd: jax.Array) -> tuple[jax.Array, jax.Array, dict[str, jax.Array]]:
    """Top-k expert ids [N, k] in ascending order, their renormalized weights [N, k], aux losses.

    Routing runs in float32 whatever the compute dtype (the logits are cast
    before the softmax), so under bf16 the choice, the weights and the aux
    losses keep float32 resolution; for float32 inputs the cast is a no-op.
    """
    kargs = self.cfg.kernel_args
    logits_ne = self.router(x_nd).astype(jnp.float32)
    probs_ne = sharded_kernels.rowwise(pk.softmax, logits_ne, kargs)
    weights_nk, chosen_nk = jax.lax.top_k(probs_ne, self.cfg.top_k)
    weights_nk = weights_nk / jnp.sum(weights_nk, axis=-1, keepdims=True)
    log_probs_ne = sharded_kernels.rowwise(pk.log_softmax, logits_ne, kargs)
    aux = {"load_balance": load_balance_loss(probs_ne, chosen_nk),
           "router_z": router_z_loss(logits_ne, log_probs_ne)}
    ascending_nk = jnp.argsort(chosen_nk, axis=-1)
    return (jnp.take_along_axis(chosen_nk, ascending_nk, axis=-1),
            jnp.take_along_axis(weights_nk, ascending_nk, axis=-1), aux)

  def __call__(self, x: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    x_nd = x.reshape(-1, x.shape[-1])
    chosen_nk, weights_nk, aux = self.route(x_nd)
    weights_nk = weights_nk.astype(x.dtype)  # The combine runs in the compute dtype.
    if partitioning.current_mesh() is not None:  # experts sharded: see expert_parallel.
      return expert_parallel.expert_ffn(x, chosen_nk, weights_nk, self.up[...], self.down[...],
                                        self.cfg.n_experts, self.cfg.blocks.matmul_m,
                                        self.cfg.kernel_args), aux
    block_rows = self.cfg.blocks.matmul_m
    plan = dispatch(chosen_nk, self.cfg.n_experts, block_rows)
    n_rows = plan.block_expert_b.shape[0] * block_rows
    x_rd = jnp.zeros((n_rows, x_nd.shape[1]), x.dtype).at[plan.row_nk.reshape(-1)].set(
        jnp.repeat(x_nd, self.cfg.top_k, axis=0), unique_indices=True)
    y_rd = expert_ffn(x_rd, plan.block_expert_b, self.up[...], self.down[...],
                      self.cfg.kernel_args)
    return combine(y_rd, plan.row_nk, weights_nk).reshape(x.shape), aux
