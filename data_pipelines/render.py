r"""Renders one scenario episode for a person.

  python -m data_pipelines.render --family=timespeak --index=3 \
      [--split=train] [--config=experiments/configs/interaction.py:tiny] [--out=runs/render]

writes `<out>/<family>_<split>_<index>.png` (the timeline: mic, model speech,
text per tick, video, ground-truth marks) and `..._stereo.wav` (user left,
model right), and prints the ground truth. The layout, episode length and seed
come from the config's `stream` and `data` sections.
"""

import json
import os

from absl import app
from absl import flags
from ml_collections import config_flags

from data_pipelines import episode_view
from data_pipelines import pipeline
from data_pipelines import speech_cache
from data_pipelines import stream

_CONFIG = config_flags.DEFINE_config_file(
    "config", "experiments/configs/interaction.py:tiny", "Experiment config (stream + data).")
_FAMILY = flags.DEFINE_string("family", None, "Scenario family name.")
_INDEX = flags.DEFINE_integer("index", 0, "Episode index within the family.")
_SPLIT = flags.DEFINE_enum("split", "train", ["train", "heldout"], "Which split.")
_OUT = flags.DEFINE_string("out", "runs/render", "Output directory.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = _CONFIG.value
  layout = stream.TickLayout.from_config(config.stream)
  ep = pipeline.build_episode(_FAMILY.value, _INDEX.value, split=_SPLIT.value,
                              seed=config.data.seed, n_ticks=config.data.n_ticks, layout=layout,
                              cache=speech_cache.SpeechCache())
  os.makedirs(_OUT.value, exist_ok=True)
  stem = os.path.join(_OUT.value, f"{_FAMILY.value}_{_SPLIT.value}_{_INDEX.value}")
  episode_view.plot_episode(ep, stem + ".png")
  episode_view.write_stereo_wav(ep, stem + "_stereo.wav")
  print(json.dumps(ep.truth, indent=1, default=str))
  print(f"wrote {stem}.png and {stem}_stereo.wav")


if __name__ == "__main__":
  flags.mark_flag_as_required("family")
  app.run(main)
