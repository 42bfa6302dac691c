"""The interaction model: modules, streaming sessions, sampler, background model, serving.

Built so far: `InteractionModel` (encoder-free inputs, shared decoder with dense
or MoE FFNs, text and flow-matching heads, training losses) configured by
`ModelConfig`; every op on the forward path goes through `pallas_kernels`.
"""

from interaction.config import ModelConfig
from interaction.model import InteractionModel
