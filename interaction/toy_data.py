"""A small synthetic episode in `to_example` format, for smoke tests and overfitting.

Real front ends, toy content: the user's audio is the dMel encoding of a tone
(`data_pipelines.audio.log_mel`), the camera sees a colour gradient, the user
types "hi", and the model answers "ok" aloud in the second half of the episode
(text out and log-mel audio out), staying <silence> before. Deterministic in `seed`.
"""

import numpy as np

from data_pipelines import audio as audio_lib
from data_pipelines import episode as episode_lib
from data_pipelines import pipeline
from data_pipelines import stream
from data_pipelines import text as text_lib


def toy_example(layout: stream.TickLayout, n_ticks: int, seed: int = 0) -> dict[str, np.ndarray]:
  """One example dict (see `pipeline.to_example`) of `n_ticks` ticks."""
  rng = np.random.default_rng(seed)
  sr = layout.mel.sample_rate
  n = layout.samples_per_tick
  inputs, outputs = [], []
  for tick in range(n_ticks):
    t = np.arange(tick * n, (tick + 1) * n) / sr
    tone = (0.3 * np.sin(2 * np.pi * (300 + 50 * seed) * t)).astype(np.float32)
    user_mel = audio_lib.log_mel(tone, sr)[:layout.frames_per_tick]
    speaking = tick >= n_ticks // 2
    spoken = (rng.normal(-3.0, 0.5, (layout.frames_per_tick, layout.mel.n_mels))
              .astype(np.float32) if speaking else None)
    frame = None
    if layout.n_video_tokens:
      ramp = np.linspace(0, 255, layout.video_width, dtype=np.float32)
      frame = np.broadcast_to((ramp[None, :, None] + 40 * tick) % 256,
                              (layout.video_height, layout.video_width, 3)).astype(np.uint8)
    self_audio = audio_lib.dmel_encode(outputs[-1].audio_out) if (
        outputs and outputs[-1].audio_out is not None) else None
    inputs.append(stream.TickInputs(user_audio=audio_lib.dmel_encode(user_mel),
                                    self_audio=self_audio, video=frame,
                                    text_in=tuple(text_lib.encode("hi")) if tick == 0 else ()))
    text_out = tuple(text_lib.encode("ok")) if speaking else (text_lib.SILENCE,)
    outputs.append(stream.TickOutputs(text_out=text_out, audio_out=spoken))
  ticks = layout.pack_episode(inputs, outputs)
  ep = episode_lib.Episode(script=episode_lib.EpisodeScript(family="toy", n_ticks=n_ticks),
                           layout=layout, ticks=ticks, mic=np.zeros(0, np.float32),
                           model_audio=np.zeros(0, np.float32), words=())
  return pipeline.to_example(ep)


def toy_batch(layout: stream.TickLayout, n_ticks: int, batch_size: int) -> dict[str, np.ndarray]:
  """`batch_size` toy examples (seeds 0..batch_size-1) stacked along a leading axis."""
  examples = [toy_example(layout, n_ticks, seed) for seed in range(batch_size)]
  return {key: np.stack([ex[key] for ex in examples]) for key in examples[0]}
