"""`pallas_kernels` calls sharded by the rules table: matmul, RMSNorm, row-wise ops, attention.

Without a multi-device mesh (see `partitioning.current_mesh`) each function is
the plain `pk` call. Under a mesh, activations get sharding constraints from
their logical axes and parameters are gathered over the data-like axes (FSDP:
gathered per use, gradients reduce-scattered back):

* `matmul` (a `Linear`): tokens `[batch, length, ...]` sharded like the
  activations; a weight sharded over model axes (tensor, expert) on its output
  dim is column parallel (tokens gathered over those axes, output sharded on its
  last dim); on its input dim it is row parallel (partial products summed, the
  output back in the sequence-parallel layout: Megatron SP).
* `rms_norm`: tokens sharded like the residual stream, the scale gathered.
* `rowwise` (silu, gelu, softmax, log_softmax): tokens sharded like the
  activations; the last dim kept sharded for elementwise ops, whole otherwise.
* `attention`: batch, query positions (context parallel over `sequence`) and
  heads sharded; keys and values gathered along the sequence.

impl="xla" is partitioned by XLA from these constraints. impl="pallas" runs the
kernel inside `jax.shard_map` with the same specs (a `pallas_call` cannot be
auto-partitioned), so each device runs the batch-invariant kernel on its shard.
Sharding changes which rows a device holds, never a row's reduction order,
except that a row-parallel matmul sums per-shard partial products (float
reassociation of the contraction; results equal the unsharded ones to float
tolerance, not bitwise).
"""

import functools

import jax
import jax.numpy as jnp

import pallas_kernels as pk
from interaction import partitioning as part

Dims = tuple[tuple[str, ...], ...]


def _context():
  """(mesh, rules) under a multi-device mesh, else None."""
  mesh = part.current_mesh()
  return None if mesh is None else (mesh, part.current_rules())


def _token_names(rank: int) -> tuple[str | None, ...]:
  """Logical names of an activation's leading (token) dims: [batch, length] for rank 3."""
  if rank < 2:
    return ()
  if rank == 3:
    return (part.BATCH, part.LENGTH)
  return (part.BATCH,) + (None,) * (rank - 2)


def _without(dims: Dims, axes: tuple[str, ...]) -> Dims:
  return tuple(tuple(a for a in d if a not in axes) for d in dims)


def _constrain(x: jax.Array, dims: Dims) -> jax.Array:
  return jax.lax.with_sharding_constraint(x, part.pspec(dims))


def gathered(param) -> jax.Array:
  """An `nnx.Param`'s value gathered over the data-like axes (FSDP: gathered per use).

  For parameters used outside `matmul` (embedding tables): dims sharded over
  model axes (e.g. the vocabulary over tensor) stay sharded.
  """
  context = _context()
  value = param[...]
  names = param.get_metadata().get("out_sharding")
  if context is None or not names:
    return value
  mesh, rules = context
  dims = _without(part.spec(tuple(names), rules, mesh), part.mesh_axes(part.BATCH, rules, mesh))
  return _constrain(value, dims)


def linear_dims(x_shape: tuple[int, ...], w_names: tuple[str | None, str | None], mesh,
                rules) -> tuple[Dims, Dims, Dims, Dims, tuple[str, ...]]:
  """Mesh axes of a `x [..., K] @ w [K, N]` under the rules.

  Returns:
    x_dims: x's layout for the product (tokens without the weight's model axes;
      K over the weight's model axes of K).
    w_dims: the weight gathered over the data-like (batch) axes.
    partial_dims: the product's layout before summing over `reduce_axes`.
    y_dims: the output's layout (row parallel: tokens sequence-parallel again).
    reduce_axes: mesh axes the contraction is split over (row parallel).
  """
  data_like = part.mesh_axes(part.BATCH, rules, mesh)
  k_axes, n_axes = _without(part.spec(w_names, rules, mesh), data_like)
  tokens = part.fit(part.spec(_token_names(len(x_shape)), rules, mesh), x_shape[:-1], mesh)
  inner = _without(tokens, k_axes + n_axes)
  x_dims = inner + (k_axes,)
  partial_dims = inner + (n_axes,)
  y_dims = (tokens if k_axes else inner) + (n_axes,)
  return x_dims, (k_axes, n_axes), partial_dims, y_dims, k_axes


def matmul(x: jax.Array, w: jax.Array, w_names: tuple[str | None, str | None],
           kernel_args: dict) -> jax.Array:
  """`pk.matmul(x [..., K], w [K, N])` with w's logical axes `w_names`; see the module doc."""
  context = _context()
  if context is None:
    return pk.matmul(x, w, **kernel_args)
  mesh, rules = context
  x_dims, w_dims, partial_dims, y_dims, reduce_axes = linear_dims(x.shape, w_names, mesh, rules)
  x = _constrain(x, x_dims)
  w = _constrain(w, w_dims)
  if kernel_args["impl"] != "pallas":
    y = pk.matmul(x, w, **kernel_args)
  else:
    def local(x_local, w_local):
      y_local = pk.matmul(x_local, w_local, **kernel_args)
      return jax.lax.psum(y_local, reduce_axes) if reduce_axes else y_local

    y = jax.shard_map(local, in_specs=(part.pspec(x_dims), part.pspec(w_dims)),
                      out_specs=part.pspec(partial_dims), check_vma=False)(x, w)
  return _constrain(y, y_dims)


def rms_norm(x: jax.Array, scale: jax.Array, kernel_args: dict) -> jax.Array:
  """`pk.rms_norm(x [..., D], scale [D])` with tokens sharded like the residual stream."""
  context = _context()
  if context is None:
    return pk.rms_norm(x, scale, **kernel_args)
  mesh, rules = context
  x_dims = part.fit(part.spec(_token_names(x.ndim), rules, mesh), x.shape[:-1], mesh) + ((),)
  x = _constrain(x, x_dims)
  scale = _constrain(scale, ((),))
  if kernel_args["impl"] != "pallas":
    return pk.rms_norm(x, scale, **kernel_args)
  local = functools.partial(pk.rms_norm, **kernel_args)
  return jax.shard_map(local, in_specs=(part.pspec(x_dims), jax.P()),
                       out_specs=part.pspec(x_dims), check_vma=False)(x, scale)


def rowwise(op, x: jax.Array, kernel_args: dict, last: str | None = None) -> jax.Array:
  """A row-wise `pk` op (`pk.silu`, `pk.gelu`, `pk.softmax`, `pk.log_softmax`) on `x [..., D]`.

  Tokens are sharded like the activations. `last` is the logical name of D
  for ops that are elementwise (silu, gelu: e.g. "mlp" keeps a tensor-parallel
  hidden layer sharded); None for ops that reduce over D (softmax), whose rows
  are gathered whole.
  """
  context = _context()
  if context is None:
    return op(x, **kernel_args)
  mesh, rules = context
  data_like = part.mesh_axes(part.BATCH, rules, mesh)
  (last_axes,) = _without((part.mesh_axes(last, rules, mesh),), data_like)
  tokens = part.fit(part.spec(_token_names(x.ndim), rules, mesh), x.shape[:-1], mesh)
  dims = _without(tokens, last_axes) + (last_axes,)
  x = _constrain(x, dims)
  if kernel_args["impl"] != "pallas":
    return op(x, **kernel_args)
  return jax.shard_map(functools.partial(op, **kernel_args), in_specs=part.pspec(dims),
                       out_specs=part.pspec(dims), check_vma=False)(x)


def attention(q_bthd: jax.Array, k_bshd: jax.Array, v_bshd: jax.Array,
              q_start_b: jax.Array | None, kv_len_b: jax.Array, kernel_args: dict) -> jax.Array:
  """`pk.attention` with batch, query positions and heads sharded; keys/values gathered.

  q_start_b None: the queries are the whole sequence (positions 0..T-1), as
  `pk.attention` reads it.

  Query positions are split over the rules' "activation_attn_length" axes (context
  parallelism); each shard's `q_start` is offset by its first query's index, so
  causality and the kernel's position-aligned key splits are those of the whole
  sequence. Query and key/value heads share their mesh axes (GQA groups stay
  on one device), so heads are only sharded when n_kv_heads divides evenly.
  """
  context = _context()
  if context is None:
    return pk.attention(q_bthd, k_bshd, v_bshd, q_start=q_start_b, kv_len=kv_len_b,
                        **kernel_args)
  mesh, rules = context
  b, t = q_bthd.shape[:2]
  batch, length = part.fit(part.spec((part.BATCH, part.ATTN_LENGTH), rules, mesh), (b, t), mesh)
  (heads,) = part.fit((part.mesh_axes(part.HEADS, rules, mesh),), k_bshd.shape[2:3], mesh)
  q_dims = (batch, length, heads, ())
  kv_dims = (batch, (), heads, ())
  q_bthd, k_bshd, v_bshd = (_constrain(q_bthd, q_dims), _constrain(k_bshd, kv_dims),
                            _constrain(v_bshd, kv_dims))
  if kernel_args["impl"] != "pallas":
    return _constrain(pk.attention(q_bthd, k_bshd, v_bshd, q_start=q_start_b, kv_len=kv_len_b,
                                   **kernel_args), q_dims)

  whole_sequence = q_start_b is None and not length  # Query shards start past position 0.
  if q_start_b is None:
    q_start_b = jnp.zeros((b,), jnp.int32)

  def local(q, k, v, q_start, kv_len):
    if length:
      q_start = q_start + (jax.lax.axis_index(length) * q.shape[1]).astype(q_start.dtype)
    if whole_sequence:
      q_start = None
    return pk.attention(q, k, v, q_start=q_start, kv_len=kv_len, **kernel_args)

  row = part.pspec((batch,))
  return jax.shard_map(local, in_specs=(part.pspec(q_dims), part.pspec(kv_dims),
                                        part.pspec(kv_dims), row, row),
                       out_specs=part.pspec(q_dims), check_vma=False)(
      q_bthd, k_bshd, v_bshd, q_start_b, kv_len_b)
