"""Live sessions on spoken prompts, and their timelines: the library behind `run_session`.

`stream_prompt` synthesizes a prompt with espeak-ng and streams it into a
`SessionEngine` as microphone samples, one tick per `append` (the engine
computes the streaming log-mel and dMel codes itself), then silence so the
model can answer; `write_outputs` draws the timeline PNG (user waveform and
mel, the model's mel on the same time axis, its text per tick) and writes the
model's speech as WAV (Griffin-Lim; silent ticks as silence).
"""

import os

from absl import app
import numpy as np

from data_pipelines import audio
from data_pipelines import speech
from data_pipelines import stream
from data_pipelines import text as text_lib
from interaction import model as model_lib
from interaction import sampler as sampler_lib
from interaction import sessions


def load_model(checkpoint: str | None, config) -> tuple[object, model_lib.InteractionModel]:
  """(config, model) from a training workdir, or a random init of `config`."""
  if checkpoint:
    from interaction import training  # pylint: disable=g-import-not-at-top
    return training.restore_for_inference(checkpoint)
  if config is None:
    raise app.UsageError("give --checkpoint=WORKDIR, or --config=FILE:VARIANT for random weights")
  return config, model_lib.InteractionModel.from_config(config)


def stream_prompt(model: model_lib.InteractionModel, prompt: str, *, listen_s: float,
        sampler: sampler_lib.SamplerConfig, flow_steps: int, speech_options: dict,
        out: str) -> sessions.FinishedSession:
  """Streams the spoken prompt and `listen_s` of silence; writes the PNG and WAV."""
  layout = model.layout
  spoken = speech.synthesize(prompt, **speech_options)
  n = layout.samples_per_tick
  n_ticks = -(-len(spoken.audio) // n) + int(round(listen_s * 1000 / layout.tick_ms))
  mic = np.zeros(n_ticks * n, np.float32)
  mic[:len(spoken.audio)] = spoken.audio
  if n_ticks > model.cfg.max_ticks:
    raise ValueError(f"the session needs {n_ticks} ticks; the model holds at most "
                     f"{model.cfg.max_ticks} (shorten --text or --listen_s)")
  engine = sessions.SessionEngine(model, max_sessions=1, max_ticks=n_ticks, flow_steps=flow_steps)
  sid = engine.open(sampler)
  for t in range(n_ticks):
    result = engine.append(sid, stream.TickInputs(), mic=mic[t * n:(t + 1) * n])
    words = [w.text for w in spoken.words if t * n <= w.start_sample < (t + 1) * n]
    said = text_lib.decode_bytes(result.text_out)
    print(f"{t:>4} {t * layout.tick_ms / 1000:>5.1f}s  user: {' '.join(words):<24} "
          f"model: {'speaks' if result.audio_out is not None else 'silent':<6} {said!r}",
          flush=True)
  record = engine.close(sid)
  write_outputs(record, mic, out)
  return record


def model_track(record: sessions.FinishedSession) -> np.ndarray:
  """float32 log-mel `[n_ticks * frames_per_tick, n_mels]` of what the model is heard saying.

  Tick t plays the audio out of tick t - 1; silent ticks are the dMel floor.
  """
  layout = record.layout
  silent = np.full((layout.frames_per_tick, layout.mel.n_mels), audio.DMEL_MIN, np.float32)
  played = [silent] + [r.audio_out if r.audio_out is not None else silent
                       for r in record.results[:-1]]
  return np.concatenate(played)


def write_outputs(record: sessions.FinishedSession, mic: np.ndarray, out: str) -> tuple[str, str]:
  """Writes `<out>_timeline.png` and `<out>_model.wav`; returns their paths."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  import soundfile  # pylint: disable=g-import-not-at-top

  layout = record.layout
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  png, wav = f"{out}_timeline.png", f"{out}_model.wav"
  rate, tick_s = layout.mel.sample_rate, layout.tick_ms / 1000
  duration = record.n_ticks * tick_s
  model_mel = model_track(record)
  user_mel = audio.log_mel(mic, rate, spec=layout.mel)
  fig, axes = plt.subplots(4, 1, figsize=(max(8.0, 1.0 * duration + 3), 9), sharex=True,
                           constrained_layout=True,
                           gridspec_kw={"height_ratios": [1, 1.4, 1.4, 0.8]})
  axes[0].plot(np.arange(len(mic)) / rate, mic, lw=0.5)
  axes[0].set_ylabel("user audio")
  extent = (0, duration, 0, layout.mel.n_mels)
  for ax, mel, name in ((axes[1], user_mel, "user mel"), (axes[2], model_mel, "model mel")):
    ax.imshow(mel.T, origin="lower", aspect="auto", extent=extent, cmap="magma",
              vmin=audio.DMEL_MIN, vmax=audio.DMEL_MAX)
    ax.set_ylabel(name)
  for t, result in enumerate(record.results):
    said = text_lib.decode_bytes(result.text_out).strip()
    if result.text_out[0] == text_lib.SILENCE:
      axes[3].axvspan(t * tick_s, (t + 1) * tick_s, color="lightgrey", alpha=0.6)
    elif said:
      axes[3].text((t + 0.5) * tick_s, 0.5, said, rotation=90, ha="center", va="center",
                   fontsize=7, parse_math=False)  # Model text is never mathtext.
  axes[3].set_yticks([])
  axes[3].set_ylabel("model text\n(grey: <silence>)")
  axes[3].set_xlabel("time (s): the model's audio out of tick t is heard in tick t + 1")
  for ax in axes:
    for t in range(record.n_ticks + 1):
      ax.axvline(t * tick_s, color="grey", lw=0.4, alpha=0.5)
  fig.savefig(png, dpi=100)
  plt.close(fig)
  spoken = audio.griffin_lim(model_mel, spec=layout.mel)
  peak = max(float(np.abs(spoken).max()), 1e-6)
  soundfile.write(wav, spoken / peak * 0.9 if peak > 1e-4 else spoken, rate, subtype="PCM_16")
  return png, wav
