r"""The main job for now: a spoken prompt carried through the micro-turn stream.

  python -m experiments.demo --config=experiments/configs/interaction.py:tiny \
      --workdir=runs/demo --text="Count down from five."

Synthesizes the prompt with espeak-ng, computes log-mel and dMel codes, packs
the episode with the config's TickLayout, prints the layout and one line per
tick, and writes to --workdir: stream.png (waveform, words, mel, codes, tick
grid), stream_griffin_lim.wav (what the model hears) and episode.npz (the
packed arrays, one row per tick).
"""

import os

from absl import app
from absl import flags
import numpy as np
from ml_collections import config_flags

from data_pipelines import stream
from data_pipelines import stream_view

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file, e.g. experiments/configs/interaction.py:tiny.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for the outputs.")
_TEXT = flags.DEFINE_string("text", "Hello there. Tell me when ten seconds have passed, please.",
                            "What the user says.")


def run(config, workdir: str, text: str) -> dict[str, str]:
  """Runs the demo; returns the paths it wrote by name."""
  layout = stream.TickLayout.from_config(config.stream)
  print(f"[1/3] layout ({config.variant}):\n{layout.describe()}", flush=True)
  view = stream_view.build_stream(text, layout, **config.speech)
  print(f"[2/3] {view.speech.duration_s:.2f} s of speech, {len(view.speech.words)} words -> "
        f"{view.n_ticks} ticks = {view.n_ticks * layout.tick_len} positions\n{stream_view.tick_table(view)}",
        flush=True)
  os.makedirs(workdir, exist_ok=True)
  png, wav = stream_view.write_outputs(view, os.path.join(workdir, "stream"))
  episode = os.path.join(workdir, "episode.npz")
  np.savez_compressed(episode, **{k: getattr(view.episode, k) for k in
                                  ("tokens", "present", "user_audio", "self_audio", "video",
                                   "audio_out")})
  print(f"[3/3] wrote {png}, {wav}, {episode}", flush=True)
  return {"png": png, "wav": wav, "episode": episode}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  run(_CONFIG.value, _WORKDIR.value, _TEXT.value)


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  app.run(main)
