"""Expert parallelism for `moe.MoEFFN`: each device runs the expert FFN blocks of its own experts.

Under a multi-device mesh (see `partitioning.current_mesh`) the experts'
weights are sharded over the mesh axes of the "experts" rule (default
`expert`), and so is the batch. Inside one `jax.shard_map`:

1. every device gathers the tokens (and their routing, computed outside) of
   the devices that share its batch shard but hold other experts: its
   *expert group*;
2. lays them out with `moe.dispatch` (the same expert-sorted block buffer as
   one device, over the group's tokens);
3. runs the blocks whose expert is local (`lax.cond` skips the others, which
   stay zero), with the local experts' weights gathered over every other axis
   (FSDP/tensor: gathered per use, so tensor shards split the tokens instead);
4. sums the buffer over the group (`psum`: every row is computed by exactly
   one device and is zero elsewhere, so the sum is exact), combines each token
   in ascending expert order (`moe.combine`) and keeps its own tokens.

Routing, the aux losses and the combine weights are those of the global
batch. Under impl="pallas" (row-invariant kernels) the output has the same
bits as the single-device layer; under "xla", equal to float tolerance.
Communication per layer: an all-gather of the group's tokens and a psum of
its buffer (about top_k × the tokens' size).
"""

import jax
import jax.numpy as jnp

import pallas_kernels as pk
from interaction import moe
from interaction import partitioning as part


def _local_expert_ffn(x_rd, block_expert_b, up_ldf, down_lfd, first_expert, kernel_args):
  """`moe.expert_ffn` over the blocks of local experts `first_expert + 0..L-1`; others zero."""
  n_blocks, n_local = block_expert_b.shape[0], up_ldf.shape[0]
  x_bmd = x_rd.reshape(n_blocks, -1, x_rd.shape[-1])

  @jax.checkpoint  # as in moe.expert_ffn: recompute blocks rather than keep weight slices.
  def block(args):
    x_md, e = args
    local = e - first_expert

    def run(x_md):
      i = jnp.clip(local, 0, n_local - 1)
      h_mf = pk.silu(pk.matmul(x_md, up_ldf[i], **kernel_args), **kernel_args)
      return pk.matmul(h_mf, down_lfd[i], **kernel_args)

    return jax.lax.cond((local >= 0) & (local < n_local), run, jnp.zeros_like, x_md)

  return jax.lax.map(block, (x_bmd, block_expert_b)).reshape(x_rd.shape)


def expert_ffn(x: jax.Array, chosen_nk: jax.Array, weights_nk: jax.Array, up_edf: jax.Array,
               down_efd: jax.Array, n_experts: int, block_rows: int,
               kernel_args: dict) -> jax.Array:
  """The routed expert mixture of `x [..., d]` under the current mesh; see the module doc.

  Args:
    x: tokens [..., d_model] (e.g. [B, T, d]).
    chosen_nk, weights_nk: ascending expert ids and their weights [N, k] for
      the N = prod(x.shape[:-1]) tokens in row-major order (`MoEFFN.route`).
    up_edf, down_efd: all experts' weights (sharded by the rules).
  """
  mesh, rules = part.current_mesh(), part.current_rules()
  k, lead = chosen_nk.shape[1], x.shape[:-1]
  token_names = (part.BATCH, part.LENGTH) if x.ndim == 3 else (part.BATCH,) + (None,) * (
      x.ndim - 2)
  tokens = part.fit(part.spec(token_names, rules, mesh), lead, mesh)
  expert_axes = part.mesh_axes("experts", rules, mesh)
  if n_experts % part.axis_size(expert_axes, mesh):
    raise ValueError(f"{n_experts} experts do not divide over mesh axes {expert_axes}")
  token_axes = tuple(a for d in tokens for a in d)
  group_axes = tuple(a for a in token_axes if a in expert_axes)  # in token-spec order.
  x_spec = part.pspec(tokens + ((),))
  routing_spec = part.pspec(tokens + ((),))
  weight_spec = part.pspec(((expert_axes), (), ()))

  def local(x_l, chosen_l, weights_l, up_l, down_l):
    d = x_l.shape[-1]
    x_nd = x_l.reshape(-1, d)
    chosen_nk_l, weights_nk_l = chosen_l.reshape(-1, k), weights_l.reshape(-1, k)
    if group_axes:
      gather = lambda a: jax.lax.all_gather(a, group_axes, axis=0, tiled=True)
      x_nd, chosen_nk_l, weights_nk_l = gather(x_nd), gather(chosen_nk_l), gather(weights_nk_l)
    plan = moe.dispatch(chosen_nk_l, n_experts, block_rows)
    n_rows = plan.block_expert_b.shape[0] * block_rows
    x_rd = jnp.zeros((n_rows, d), x_nd.dtype).at[plan.row_nk.reshape(-1)].set(
        jnp.repeat(x_nd, k, axis=0), unique_indices=True)
    first = (jax.lax.axis_index(expert_axes) * up_l.shape[0]) if expert_axes else 0
    y_rd = _local_expert_ffn(x_rd, plan.block_expert_b, up_l, down_l, first, kernel_args)
    if expert_axes:
      y_rd = jax.lax.psum(y_rd, expert_axes)
    y_nd = moe.combine(y_rd, plan.row_nk, weights_nk_l)
    if group_axes:
      n_local = y_nd.shape[0] // part.axis_size(group_axes, mesh)
      start = jax.lax.axis_index(group_axes) * n_local
      y_nd = jax.lax.dynamic_slice_in_dim(y_nd, start, n_local)
    return y_nd.reshape(x_l.shape)

  routing = lambda a: a.reshape(*lead, k)
  return jax.shard_map(local, in_specs=(x_spec, routing_spec, routing_spec, weight_spec,
                                        weight_spec),
                       out_specs=x_spec, check_vma=False)(
      x, routing(chosen_nk), routing(weights_nk), up_edf, down_efd)
