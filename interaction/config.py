"""The model's hyperparameters: one frozen dataclass built from the config's `model` section."""

import dataclasses

import pallas_kernels as pk
from interaction import checks

IMPLS = ("xla", "pallas")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Sizes of the interaction model and the kernel switch.

  Attributes:
    d_model: width of the residual stream.
    n_layers: decoder blocks.
    n_heads, n_kv_heads, head_dim: grouped-query attention (n_heads a multiple
      of n_kv_heads).
    d_ff: hidden width of the dense FFN, and of each expert.
    n_experts: 0 for dense FFNs, else experts per MoE FFN (every block).
    top_k: experts per token (1 <= top_k <= n_experts) when n_experts > 0.
    dmel_channel_dim: per-mel-channel embedding width of the dMel input.
    hmlp_dims: widths of the first two hMLP stages (the third is d_model).
    flow_dim, flow_layers: width and residual blocks of the flow-matching head.
    max_ticks: ticks the fixed tick-embedding table covers (episode length bound).
    rope_base: RoPE base frequency.
    impl: "xla" (fast reference) or "pallas" (batch-invariant kernels) for
      every matmul, norm, attention and transcendental on the forward path.
    blocks: the kernels' block sizes; identical in trainer and sampler.
    backend: Pallas backend override (None picks by device).
    flow_loss_weight, load_balance_weight, router_z_weight: loss weights.
    onset_loss_weight, content_loss_weight: text-loss weights of the ticks where
      speech starts and of the slots that carry content (`interaction.text_loss`);
      1 and 1 give the plain mean cross-entropy.
  """
  d_model: int = 64
  n_layers: int = 2
  n_heads: int = 4
  n_kv_heads: int = 2
  head_dim: int = 16
  d_ff: int = 128
  n_experts: int = 0
  top_k: int = 2
  dmel_channel_dim: int = 4
  hmlp_dims: tuple[int, int] = (32, 64)
  flow_dim: int = 64
  flow_layers: int = 2
  max_ticks: int = 1024
  rope_base: float = 10000.0
  impl: str = "xla"
  blocks: pk.BlockSizes = pk.DEFAULT_BLOCKS
  backend: str | None = None
  flow_loss_weight: float = 1.0
  load_balance_weight: float = 0.01
  router_z_weight: float = 0.001
  onset_loss_weight: float = 1.0
  content_loss_weight: float = 1.0

  def __post_init__(self):
    if self.impl not in IMPLS:
      raise ValueError(f"model.impl must be one of {IMPLS}, got {self.impl!r}")
    for name in ("d_model", "n_layers", "n_heads", "n_kv_heads", "head_dim", "d_ff",
                 "dmel_channel_dim", "flow_dim", "flow_layers", "max_ticks"):
      if getattr(self, name) < 1:
        raise ValueError(f"model.{name} must be >= 1, got {getattr(self, name)}")
    for name in ("flow_loss_weight", "load_balance_weight", "router_z_weight",
                 "onset_loss_weight", "content_loss_weight"):
      if not getattr(self, name) >= 0:
        raise ValueError(f"model.{name} must be >= 0, got {getattr(self, name)}")
    if self.n_heads % self.n_kv_heads:
      raise ValueError(f"model.n_heads={self.n_heads} must be a multiple of "
                       f"model.n_kv_heads={self.n_kv_heads}")
    if self.head_dim % 2:
      raise ValueError(f"model.head_dim must be even (RoPE), got {self.head_dim}")
    if self.n_experts < 0 or (self.n_experts and not 1 <= self.top_k <= self.n_experts):
      raise ValueError(f"model.top_k={self.top_k} must be in [1, n_experts={self.n_experts}] "
                       f"and n_experts >= 0")
    if len(self.hmlp_dims) != 2 or min(self.hmlp_dims) < 1:
      raise ValueError(f"model.hmlp_dims must be two positive widths, got {self.hmlp_dims}")

  @property
  def kernel_args(self) -> dict:
    """Keyword arguments every `pallas_kernels` call on the forward path takes."""
    return dict(impl=self.impl, backend=self.backend, blocks=self.blocks)

  @classmethod
  def from_config(cls, config) -> "ModelConfig":
    """From a config section with the same field names; `blocks` is a dict of BlockSizes."""
    values = checks.section_values(cls, config, "model")
    if "blocks" in values:
      values["blocks"] = pk.BlockSizes(**dict(values["blocks"]))
    if "hmlp_dims" in values:
      values["hmlp_dims"] = tuple(values["hmlp_dims"])
    return cls(**values)
