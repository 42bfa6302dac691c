"""The deterministic sampler: per-session settings, per-slot randomness, token choice.

Randomness comes only from (seed, session id, tick, slot kind): it is drawn on
the host with NumPy from that tuple, never from the batch or other sessions,
so a session replays bit for bit whatever it was batched with. Inside the
compiled step the choice is exact arithmetic on one row at a time:

* greedy (temperature 0): the arg-max token (ties to the lower id);
* temperature T > 0, optional top-k: the log-probs are divided by T, tokens
  below the k-th largest are excluded (ties at the k-th value are kept), the
  row-wise `pk.softmax` gives probabilities and the token is the first whose
  cumulative probability reaches u·total for the slot's uniform u in (0, 1]
  (inverse-CDF sampling; never a zero-probability token).

The returned log-prob of a chosen token is always the model's own (untempered)
log-prob, the quantity the trainer computes over the finished episode.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import pallas_kernels as pk
from data_pipelines.stream import Slot


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
  """How one session samples.

  Attributes:
    seed: with the session id, the tick and the slot kind, the only source of
      randomness (an int >= 0).
    temperature: 0 for greedy decoding, else > 0.
    top_k: 0 to sample from the whole vocabulary, else from the k most likely tokens.
  """
  seed: int = 0
  temperature: float = 0.0
  top_k: int = 0

  def __post_init__(self):
    if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
      raise ValueError(f"sampler seed must be an int >= 0, got {self.seed!r}")
    if not np.isfinite(self.temperature) or self.temperature < 0:
      raise ValueError(f"sampler temperature must be finite and >= 0, got {self.temperature!r}")
    if not isinstance(self.top_k, (int, np.integer)) or self.top_k < 0:
      raise ValueError(f"sampler top_k must be an int >= 0 (0 = off), got {self.top_k!r}")


def slot_randomness(seed: int, session_id: int, tick: int, n_text: int,
                    noise_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
  """The random numbers of one session's tick, from (seed, session id, tick, slot kind).

  Returns:
    uniform_n: float32 [n_text] in (0, 1], one per text-out slot.
    noise: float32 `noise_shape` standard normals for the flow head's audio-out slots.
  """
  text_rng = np.random.default_rng([seed, session_id, tick, int(Slot.TEXT_OUT)])
  audio_rng = np.random.default_rng([seed, session_id, tick, int(Slot.AUDIO_OUT)])
  # 1 - [0, 1) in float64 is at least 2^-53, still > 0 in float32.
  uniform_n = (1.0 - text_rng.random(n_text, dtype=np.float64)).astype(np.float32)
  return uniform_n, audio_rng.standard_normal(noise_shape, dtype=np.float32)


def choose_tokens(logp_bv: jax.Array, temperature_b: jax.Array, top_k_b: jax.Array,
                  uniform_b: jax.Array, kernel_args: dict) -> jax.Array:
  """int32 [B]: each row's token from its log-probs `[B, V]` (see the module docstring)."""
  vocab = logp_bv.shape[-1]
  greedy_b = jnp.argmax(logp_bv, axis=-1).astype(jnp.int32)
  sampling_b = temperature_b > 0
  scaled_bv = logp_bv / jnp.where(sampling_b, temperature_b, 1.0)[:, None]
  k_b = jnp.where(top_k_b > 0, jnp.minimum(top_k_b, vocab), vocab)
  descending_bv = -jnp.sort(-scaled_bv, axis=-1)
  kth_b1 = jnp.take_along_axis(descending_bv, (k_b - 1)[:, None], axis=-1)
  kept_bv = jnp.where(scaled_bv >= kth_b1, scaled_bv, -jnp.inf)
  probs_bv = pk.softmax(kept_bv, **kernel_args)
  cdf_bv = jnp.cumsum(probs_bv, axis=-1)
  below_bv = cdf_bv < uniform_b[:, None] * cdf_bv[:, -1:]
  sampled_b = jnp.minimum(jnp.sum(below_bv, axis=-1), vocab - 1).astype(jnp.int32)
  return jnp.where(sampling_b, sampled_b, greedy_b)
