"""Model summary: abstract counts equal a real model's, MoE active counts, rates, the CLI."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import os
import subprocess
import sys

from absl.testing import absltest
from flax import nnx
import jax

import interaction
from data_pipelines.stream import TickLayout
from experiments.configs import interaction as interaction_configs
from interaction import config as config_lib
from interaction import model as model_lib
from interaction import params
from interaction import summary

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _summary(variant: str) -> dict:
  return summary.summarize_config(interaction_configs.get_config(variant))


def _sum_rows(modules: dict, prefix: str) -> int:
  return sum(row["total"] for name, row in modules.items() if name.startswith(prefix))


class SummaryTest(absltest.TestCase):

  def test_tiny_counts_equal_a_built_model(self):
    config = interaction_configs.get_config("tiny")
    layout = TickLayout.from_config(config.stream)
    cfg = config_lib.ModelConfig.from_config(config.model)
    # Only shapes matter here; rbg keys compile their random draws faster than threefry.
    with nnx.use_eager_sharding(False):
      model = model_lib.InteractionModel(layout, cfg,
                                         rngs=nnx.Rngs(jax.random.key(0, impl="rbg")))
    result = summary.summarize(layout, cfg)
    self.assertEqual(result["total"], params.count(model))
    self.assertEqual(result["active"], result["total"])
    self.assertEqual(summary.parameter_counts(model, cfg), result["modules"])
    for prefix, module in (("embed.", model.embed), ("decoder.", model.decoder),
                           ("text_head", model.text_head), ("flow_head", model.flow_head)):
      self.assertEqual(_sum_rows(result["modules"], prefix), params.count(module), msg=prefix)
    self.assertEqual(list(result["modules"]), list(summary.ROWS))

  def test_moe_active_counts_top_k_experts(self):
    result = _summary("small")
    cfg = config_lib.ModelConfig.from_config(interaction_configs.get_config("small").model)
    self.assertLess(result["active"], result["total"])
    expert = 2 * cfg.d_model * cfg.d_ff  # up and down of one expert.
    self.assertEqual(result["total"] - result["active"],
                     cfg.n_layers * (cfg.n_experts - cfg.top_k) * expert)
    ffn = result["modules"]["decoder.ffn"]
    self.assertEqual(ffn["total"] - ffn["active"], result["total"] - result["active"])

  def test_large_variants(self):
    dense = _summary("1b")
    self.assertBetween(dense["total"], 0.9e9, 1.2e9)
    self.assertEqual(dense["active"], dense["total"])
    moe = _summary("moe_large")
    self.assertGreater(moe["total"], 3e9)
    self.assertBetween(moe["active"], 0.9e9, 1.2e9)

  def test_token_rates(self):
    rates = _summary("tiny")["rates"]
    layout = TickLayout.from_config(interaction_configs.get_config("tiny").stream)
    per_tick_to_per_s = 1000 / layout.tick_ms
    self.assertEqual(rates["slot"]["video"], layout.n_video_tokens * per_tick_to_per_s)
    self.assertEqual(rates["modality"]["audio"], 3 * layout.n_audio_tokens * per_tick_to_per_s)
    self.assertEqual(rates["modality"]["text"],
                     (layout.text_in_tokens + layout.bg_in_tokens + layout.text_out_tokens)
                     * per_tick_to_per_s)
    self.assertAlmostEqual(sum(rates["slot"].values()), rates["all"]["positions"])
    self.assertAlmostEqual(sum(rates["modality"].values()), rates["all"]["positions"])

  def test_package_reexports(self):
    self.assertIs(interaction.summarize, summary.summarize)
    self.assertIs(interaction.format_table, summary.format_table)
    with self.assertRaises(AttributeError):
      interaction.no_such_name  # pylint: disable=pointless-statement

  def test_cli_prints_the_table(self):
    done = subprocess.run(
        [sys.executable, "-m", "interaction.summary",
         "--config=experiments/configs/interaction.py:tiny"],
        cwd=_REPO, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, JAX_PLATFORMS="cpu"), check=False)
    self.assertEqual(done.returncode, 0, msg=done.stderr)
    total = _summary("tiny")["total"]
    self.assertIn("TOTAL", done.stdout)
    self.assertIn(f"{total:,}", done.stdout)
    for row in summary.ROWS:
      self.assertIn(row, done.stdout)
    self.assertIn("tokens/s", done.stdout)
    self.assertNotIn("found in sys.modules", done.stderr)


if __name__ == "__main__":
  absltest.main()
