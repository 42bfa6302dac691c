r"""Model summary: parameter counts per module, MoE total vs active, stream token rates.

  python -m interaction.summary --config=experiments/configs/interaction.py:tiny

The model is built abstractly (`nnx.eval_shape`: shapes only, no parameter
memory), so summarizing a billion-parameter variant is instant on a laptop.
`summarize` returns the numbers as a dict (for notebooks); `format_table`
renders them.

Counts:
  total   every scalar parameter.
  active  parameters one token uses: an MoE FFN contributes its router and
          top_k of its n_experts expert FFNs (what `moe.MoEFFN`'s grouped
          dispatch runs per token, block padding aside).
Rows: the embeddings one by one, each decoder component summed over layers,
the final norm, the text head and the flow head.
Stream rates: positions per second of each slot kind, `count(kind) / tick
seconds`, and their sums by modality.
"""

import math

from absl import app
from absl import flags
from flax import nnx
from ml_collections import config_flags

from data_pipelines.stream import Slot
from data_pipelines.stream import TickLayout
from interaction import config as config_lib
from interaction import model as model_lib

MODALITIES = {
    "audio": (Slot.USER_AUDIO, Slot.SELF_AUDIO, Slot.AUDIO_OUT),
    "video": (Slot.VIDEO,),
    "text": (Slot.TEXT_IN, Slot.BG_IN, Slot.TEXT_OUT),
    "control": (Slot.TICK,),
}
_EXPERT_WEIGHTS = ("up", "down")  # `moe.MoEFFN` params stacked over experts.
# Table rows in forward order; a row not listed (a new module) follows them.
ROWS = ("embed.tokens", "embed.slot_types", "embed.audio", "embed.video", "decoder.attn_norm",
        "decoder.attn", "decoder.ffn_norm", "decoder.ffn", "decoder.norm", "text_head",
        "flow_head")


def abstract_model(layout: TickLayout, cfg: config_lib.ModelConfig) -> model_lib.InteractionModel:
  """The model with `jax.ShapeDtypeStruct` parameters: shapes and metadata, no memory."""
  with nnx.use_eager_sharding(False):
    return nnx.eval_shape(lambda: model_lib.InteractionModel(layout, cfg, rngs=nnx.Rngs(0)))


def _row(path: tuple) -> str:
  """The table row of a parameter path: embeddings one by one, decoder blocks by component."""
  head, *rest = (str(p) for p in path)
  if head == "embed":
    return f"embed.{rest[0]}"
  if head == "decoder":
    return f"decoder.{rest[2]}" if rest[0] == "blocks" else f"decoder.{rest[0]}"
  return head


def _is_expert_weight(path: tuple, cfg: config_lib.ModelConfig) -> bool:
  """Whether `path` is an MoE expert stack `decoder.blocks.<i>.ffn.{up,down}`."""
  keys = tuple(str(p) for p in path)
  return (bool(cfg.n_experts) and keys[:2] == ("decoder", "blocks") and len(keys) == 5
          and keys[3] == "ffn" and keys[4] in _EXPERT_WEIGHTS)


def parameter_counts(model: nnx.Module, cfg: config_lib.ModelConfig) -> dict[str, dict[str, int]]:
  """`{row: {"total": n, "active": n}}` in `ROWS` order, for a real or abstract model."""
  rows = {}
  for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
    size = math.prod(var.get_value().shape)  # an array or a ShapeDtypeStruct.
    # Experts are equal-sized, so top_k of n_experts of the stack is exact.
    active = size // cfg.n_experts * cfg.top_k if _is_expert_weight(path, cfg) else size
    row = rows.setdefault(_row(path), {"total": 0, "active": 0})
    row["total"] += size
    row["active"] += active
  order = lambda name: (ROWS.index(name), "") if name in ROWS else (len(ROWS), name)
  return {name: rows[name] for name in sorted(rows, key=order)}


def token_rates(layout: TickLayout) -> dict[str, dict[str, float]]:
  """Positions per second of the stream: by slot kind, by modality, and overall."""
  tick_s = layout.tick_ms / 1000
  by_slot = {kind.name.lower(): layout.count(kind) / tick_s for kind in Slot}
  by_modality = {name: sum(layout.count(k) for k in kinds) / tick_s
                 for name, kinds in MODALITIES.items()}
  return {"slot": by_slot, "modality": by_modality, "all": {"positions": layout.tick_len / tick_s}}


def summarize(layout: TickLayout, cfg: config_lib.ModelConfig) -> dict:
  """The summary of the model `cfg` over `layout`, built abstractly.

  Returns:
    dict with "modules" (`parameter_counts`), "total" and "active" (ints),
    "rates" (`token_rates`), and "tick_ms", "tick_len", "n_layers",
    "n_experts", "top_k" for context.
  """
  modules = parameter_counts(abstract_model(layout, cfg), cfg)
  return {
      "modules": modules,
      "total": sum(r["total"] for r in modules.values()),
      "active": sum(r["active"] for r in modules.values()),
      "rates": token_rates(layout),
      "tick_ms": layout.tick_ms,
      "tick_len": layout.tick_len,
      "n_layers": cfg.n_layers,
      "n_experts": cfg.n_experts,
      "top_k": cfg.top_k,
  }


def summarize_config(config) -> dict:
  """`summarize` for an experiment config with `stream` and `model` sections."""
  return summarize(TickLayout.from_config(config.stream),
                   config_lib.ModelConfig.from_config(config.model))


def _human(n: float) -> str:
  for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
    if n >= scale:
      return f"{n / scale:.2f} {unit}"
  return str(int(n))


def format_table(summary: dict) -> str:
  """The summary as a plain-text table (parameters, then stream rates)."""
  moe = (f"MoE {summary['n_experts']} experts, top-{summary['top_k']}" if summary["n_experts"]
         else "dense")
  lines = [f"parameters ({summary['n_layers']} layers, {moe}; decoder rows summed over layers)",
           f"  {'module':<22}{'total':>16}{'active':>16}{'':>4}{'total':>10}"]
  rows = list(summary["modules"].items()) + [
      ("TOTAL", {"total": summary["total"], "active": summary["active"]})]
  for name, row in rows:
    lines.append(f"  {name:<22}{row['total']:>16,}{row['active']:>16,}{'':>4}"
                 f"{_human(row['total']):>10}")
  lines.append(f"  active / total = {summary['active'] / summary['total']:.3f}")
  rates = summary["rates"]
  lines.append(f"stream ({summary['tick_ms']} ms ticks, {summary['tick_len']} positions per tick)")
  lines.append(f"  {'slot':<22}{'tokens/s':>10}")
  for name, value in rates["slot"].items():
    lines.append(f"  {name:<22}{value:>10.1f}")
  for name, value in rates["modality"].items():
    lines.append(f"  {name + ' (all slots)':<22}{value:>10.1f}")
  lines.append(f"  {'all positions':<22}{rates['all']['positions']:>10.1f}")
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  print(format_table(summarize_config(_CONFIG.value)))


if __name__ == "__main__":
  # Defined only when run as a program: importing this module next to another
  # launcher (which defines its own --config) must not clash.
  _CONFIG = config_flags.DEFINE_config_file(
      "config", None, "Experiment config file, e.g. experiments/configs/interaction.py:tiny.",
      lock_config=True)
  flags.mark_flag_as_required("config")
  app.run(main)
