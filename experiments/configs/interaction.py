"""The interaction experiment: stream layout, audio front end and demo speech.

Variants (`get_config(arg)`):
  tiny   runs on a laptop CPU in minutes: 2 mel frames per audio token and one
         40×40 video patch per tick (26 positions per tick).
  small  one mel frame per audio token, an 80×80 frame (4 patches) per tick,
         wider text slots (49 positions per tick).

Launch (flags override any field):
  python -m experiments.demo --config=experiments/configs/interaction.py:tiny \
      --workdir=runs/demo --config.stream.text_out_tokens=8 --config.seed=1
"""

import ml_collections

VARIANTS = ("tiny", "small")

_STREAM = {
    "tiny": dict(frames_per_audio_token=2, video_height=40, video_width=40,
                 text_in_tokens=4, bg_in_tokens=4, text_out_tokens=4),
    "small": dict(frames_per_audio_token=1, video_height=80, video_width=80,
                  text_in_tokens=8, bg_in_tokens=8, text_out_tokens=4),
}


def get_config(arg: str = "tiny") -> ml_collections.ConfigDict:
  """Returns the config for variant `arg` (one of VARIANTS)."""
  if arg not in VARIANTS:
    raise ValueError(f"unknown variant {arg!r} for interaction.py; expected one of {VARIANTS}")
  config = ml_collections.ConfigDict()
  config.variant = arg
  config.seed = 0

  # data_pipelines.stream.TickLayout fields; mel holds data_pipelines.audio.MelSpec fields.
  config.stream = ml_collections.ConfigDict(dict(tick_ms=200, **_STREAM[arg]))
  config.stream.mel = ml_collections.ConfigDict(dict(
      sample_rate=16000, n_mels=80, fmin=80.0, fmax=7600.0, window_ms=50.0, hop_ms=25.0,
      n_fft=1024, log_floor=1e-10))

  # data_pipelines.speech.synthesize options for the demo's spoken prompt.
  config.speech = ml_collections.ConfigDict(dict(voice="en-us", rate=175, pitch=50))
  return config
