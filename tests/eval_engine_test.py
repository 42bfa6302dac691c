"""Streaming evaluation through the real `interaction.SessionEngine` with a random tiny model.

Plumbing, not quality: two short heldout episodes of different lengths are
played in one batch of sessions in "ours" and behind the harness; scores of a
random model are near zero. A fresh engine on the same model and seed gives
the same report JSON bit for bit.
"""

from tests import testing  # isort: skip  (configures JAX before anything else)

import functools
import json

from absl.testing import absltest
from flax import nnx
import numpy as np

from data_pipelines import pipeline
from data_pipelines import speech_cache
from data_pipelines import stream
from data_pipelines import text
from eval import episodes
from eval import evaluate
from eval import players
from eval import report
from experiments.configs import interaction as interaction_config
import interaction

MODES = ("ours", "baseline_response")


@functools.lru_cache(maxsize=1)
def setup():
  config = interaction_config.get_config("tiny")
  layout = stream.TickLayout.from_config(config.stream)
  with nnx.use_eager_sharding(False):
    model = interaction.InteractionModel(
        layout, interaction.ModelConfig.from_config(config.model), rngs=nnx.Rngs(0))
  cache = speech_cache.SpeechCache()
  eps = [episodes.from_episode(pipeline.build_episode(family, 0, split="heldout", seed=0,
                                                      n_ticks=n, layout=layout, cache=cache), 0)
         for family, n in (("cuespeak", 60), ("proactive_qa", 64))]
  return model, eps


def run_once():
  model, eps = setup()
  new_engine = functools.partial(interaction.SessionEngine, model, max_sessions=2, max_ticks=64,
                                 flow_steps=2)
  player = players.EnginePlayer(new_engine, interaction.SamplerConfig(temperature=0.0),
                                base_seed=3)
  ev = evaluate.evaluate(player, eps, MODES)
  return ev, player.engine


@functools.lru_cache(maxsize=1)
def two_runs():
  return run_once(), run_once()


class EngineEvaluationTest(absltest.TestCase):

  def test_runs_cover_every_tick_and_the_harness_is_obeyed(self):
    (ev, engine), _ = two_runs()
    _, eps = setup()
    self.assertEqual(engine.open_sessions, ())  # Every session was closed.
    for mode in MODES:
      for ep, run in zip(eps, ev.runs[mode]):
        self.assertEqual(run.text_out.shape, (ep.n_ticks, ep.layout.text_out_tokens))
        self.assertLen(run.spoke, ep.n_ticks)
    for run in ev.runs["baseline_response"]:
      for t, allowed in enumerate(run.allow):
        if not allowed:
          self.assertEqual(run.text_out[t][0], text.SILENCE)
          self.assertFalse(run.spoke[t])
      self.assertGreater(len(run.allow) - sum(run.allow), 0)

  def test_scores_exist_and_are_low(self):
    (ev, _), _ = two_runs()
    for mode in MODES:
      self.assertEqual(ev.aggregates[mode]["cuespeak"]["episodes"], 1)
      self.assertLessEqual(ev.aggregates[mode]["cuespeak"]["accuracy"], 0.5)
      self.assertLessEqual(ev.aggregates[mode]["proactive_qa"]["pauc"], 0.5)

  def test_same_seed_same_json(self):
    (first, _), (second, _) = two_runs()
    meta = {"checkpoint": "random"}
    a, b = report.to_json(first, meta), report.to_json(second, meta)
    self.assertEqual(a, b)
    for mode in MODES:
      for x, y in zip(first.runs[mode], second.runs[mode]):
        np.testing.assert_array_equal(x.text_out, y.text_out)
    self.assertIn("aggregates", json.loads(a))

  def test_episode_longer_than_the_sessions_is_rejected(self):
    model, eps = setup()
    player = players.EnginePlayer(
        lambda: interaction.SessionEngine(model, max_sessions=1, max_ticks=32),
        interaction.SamplerConfig())
    with self.assertRaisesRegex(ValueError, "60 ticks but the engine's sessions hold 32"):
      player.open(eps[0])


if __name__ == "__main__":
  absltest.main()
