"""The interaction model: modules, streaming sessions, sampler, background model, serving.

Built so far: `InteractionModel` (encoder-free inputs, shared decoder with dense
or MoE FFNs, text and flow-matching heads, training losses) configured by
`ModelConfig`; every op on the forward path goes through `pallas_kernels`.
`SessionEngine` streams many sessions tick by tick with a deterministic
sampler (`SamplerConfig`); `trainer_logprobs` scores finished sessions with
the training forward (equal to the sampler's log-probs under impl="pallas").
`summarize` / `summarize_config` / `format_table` (`interaction.summary`):
parameter counts per module, MoE total vs active, stream token rates.
"""

from interaction.config import ModelConfig
from interaction.model import InteractionModel
from interaction.replay import trainer_logprobs
from interaction.sampler import SamplerConfig
from interaction.sessions import FinishedSession
from interaction.sessions import SessionEngine
from interaction.sessions import SessionError
from interaction.sessions import TickResult

_SUMMARY_NAMES = ("summarize", "summarize_config", "format_table")


def __getattr__(name: str):
  """Re-exports `interaction.summary` lazily.

  `python -m interaction.summary` imports this package first; importing the
  module here eagerly would load it twice (runpy warns about that).
  """
  if name in _SUMMARY_NAMES:
    from interaction import summary  # pylint: disable=g-import-not-at-top
    return getattr(summary, name)
  raise AttributeError(f"module 'interaction' has no attribute {name!r}")
