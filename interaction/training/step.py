"""The train state and the training step, as pure functions for `jax.jit`.

The train state is a plain pytree (a dict), so it jits with explicit
shardings, donates, and saves with orbax as is:
  params                 float32 parameters (`nnx.to_pure_dict` form)
  opt_state              the optax state (float32, mirrors params)
  step                   int32 [], batches consumed so far (rejected ones included)
  rng                    uint32 key data; step s draws `fold_in(rng, s)`, so a
                         resumed run draws the same randomness as an uninterrupted one
  consecutive_nonfinite  int32 [], rejected steps in a row
  rejected               int32 [], rejected steps in total

Mixed precision (train.precision="bf16"): the state above stays float32. The
loss function rounds the floating parameters to the compute dtype *inside*
the differentiated function, so the model computes in bfloat16 while
`jax.grad` returns gradients for the float32 master copy (the cast's
transpose casts the cotangents back to float32); clipping and AdamW run in
float32. For compute dtype float32 the cast is skipped (bit-identical to a
plain float32 step).
"""

from flax import nnx
import jax
import jax.numpy as jnp
import optax

COUNTERS = ("step", "rng", "consecutive_nonfinite", "rejected")  # The state's small entries.


def init_state(params: dict, tx: optax.GradientTransformation, seed: int) -> dict:
  """A fresh train state for `params` (run under jit to place the optimizer state like params)."""
  return {"params": params, "opt_state": tx.init(params), "step": jnp.zeros((), jnp.int32),
          "rng": jax.random.key_data(jax.random.key(seed)),
          "consecutive_nonfinite": jnp.zeros((), jnp.int32), "rejected": jnp.zeros((), jnp.int32)}


def step_key(state: dict) -> jax.Array:
  """The randomness of the current step (flow-loss noise and times)."""
  return jax.random.fold_in(jax.random.wrap_key_data(state["rng"]), state["step"])


def cast_floating(params, dtype):
  """`params` with its floating leaves rounded to `dtype` (the others as they are)."""

  def cast(x):
    if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != dtype:
      return x.astype(dtype)
    return x

  return jax.tree.map(cast, params)


def make_loss_fn(graphdef: nnx.GraphDef, compute_dtype=jnp.float32):
  """`(params, batch, key) -> (total, losses)` with the model built from graphdef and params.

  The model runs on the parameters rounded to `compute_dtype`; the losses are
  float32 (the model guarantees it), and gradients taken with respect to
  `params` have `params`' dtypes.
  """

  def loss_fn(params, batch, key):
    losses, _ = nnx.merge(graphdef, cast_floating(params, compute_dtype))(batch, key)
    return losses["total"], losses

  return loss_fn


def make_train_step(graphdef: nnx.GraphDef, tx: optax.GradientTransformation,
                    schedule: optax.Schedule, compute_dtype=jnp.float32):
  """`(state, batch) -> (state, metrics)`: one AdamW step, rejected if non-finite.

  The step is accepted only when the total loss and the global gradient norm
  are both finite; otherwise params and optimizer state are returned bit for
  bit unchanged and the non-finite counters advance. `step` advances either
  way (the batch is consumed). metrics: every named loss ("loss/<name>"),
  "grad_norm" (before clipping), "learning_rate" (of this update), "finite"
  (bool), and the two counters. The forward and backward run in
  `compute_dtype` (see the module doc); params and optimizer state keep their
  float32 dtype.
  """
  loss_fn = make_loss_fn(graphdef, compute_dtype)

  def train_step(state: dict, batch: dict) -> tuple[dict, dict]:
    params, opt_state = state["params"], state["opt_state"]
    (total, losses), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, batch, step_key(state))
    grad_norm = optax.tree.norm(grads)
    finite = jnp.isfinite(total) & jnp.isfinite(grad_norm)
    updates, new_opt_state = tx.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)
    consecutive = jnp.where(finite, 0, state["consecutive_nonfinite"] + 1)
    new_state = {"params": keep(new_params, params), "opt_state": keep(new_opt_state, opt_state),
                 "step": state["step"] + 1, "rng": state["rng"],
                 "consecutive_nonfinite": consecutive.astype(jnp.int32),
                 "rejected": state["rejected"] + (~finite).astype(jnp.int32)}
    metrics = {f"loss/{name}": value for name, value in losses.items()}
    metrics.update(grad_norm=grad_norm, finite=finite, consecutive_nonfinite=consecutive,
                   rejected=new_state["rejected"],
                   # The optimizer's update count: accepted steps before this one.
                   learning_rate=schedule(state["step"] - state["rejected"]))
    return new_state, metrics

  return train_step
