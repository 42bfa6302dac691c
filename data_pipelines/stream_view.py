"""A spoken prompt along the input path, as arrays, a table and a plot.

`build_stream` synthesizes speech and carries it through log-mel, dMel codes
and tick packing; `tick_table`, `plot_stream` and `write_outputs` show it.
The CLI is `data_pipelines.show`.
"""

import dataclasses
import os

import numpy as np

from data_pipelines import audio
from data_pipelines import speech
from data_pipelines import stream


@dataclasses.dataclass(frozen=True)
class StreamView:
  """A spoken prompt in every representation along the input path.

  wave: float32 `[n_ticks * samples_per_tick]` speech, zero-padded to whole ticks.
  log_mel: float32 `[n_ticks * frames_per_tick, n_mels]`.
  codes: int32 dMel codes, same shape as log_mel.
  episode: the prompt packed as user audio, leading shape [n_ticks].
  """
  layout: stream.TickLayout
  speech: speech.Speech
  wave: np.ndarray
  log_mel: np.ndarray
  codes: np.ndarray
  episode: stream.PackedTicks

  @property
  def n_ticks(self) -> int:
    return self.episode.leading_shape[0]


def build_stream(text: str, layout: stream.TickLayout = stream.TickLayout(), **speech_options) -> StreamView:
  """Synthesizes `text` and carries it through log-mel, dMel and tick packing."""
  spoken = speech.synthesize(text, **speech_options)
  wave = audio.pad_to_multiple(spoken.audio, layout.samples_per_tick).astype(np.float32)
  log_mel = audio.log_mel(wave, spoken.sample_rate, spec=layout.mel)
  codes = audio.dmel_encode(log_mel)
  episode = layout.pack_episode([stream.TickInputs(user_audio=c) for c in layout.split_frames(codes)])
  return StreamView(layout=layout, speech=spoken, wave=wave, log_mel=log_mel, codes=codes,
                    episode=episode)


def tick_table(view: StreamView) -> str:
  """One line per tick: time, loudness, mean dMel code, words that start in it."""
  layout = view.layout
  lines = [f"{'tick':>4}  {'start':>6}  {'rms dBFS':>8}  {'mean code':>9}  words starting"]
  frames = layout.split_frames(view.codes)
  for tick in range(view.n_ticks):
    start, stop = tick * layout.samples_per_tick, (tick + 1) * layout.samples_per_tick
    rms = np.sqrt(np.mean(view.wave[start:stop].astype(np.float64) ** 2))
    words = [w.text for w in view.speech.words if start <= w.start_sample < stop]
    lines.append(f"{tick:>4}  {start / layout.mel.sample_rate:>5.1f}s  "
                 f"{20 * np.log10(max(rms, 1e-10)):>8.1f}  {frames[tick].mean():>9.2f}  "
                 f"{' '.join(words)}")
  return "\n".join(lines)


def plot_stream(view: StreamView, path: str) -> None:
  """Writes a PNG: waveform + word spans, log-mel, dMel codes, tick grid."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  layout = view.layout
  rate = layout.mel.sample_rate
  duration = len(view.wave) / rate
  fig, (ax_wave, ax_mel, ax_codes) = plt.subplots(3, 1, figsize=(max(8, 1.2 * duration + 4), 8),
                                                  sharex=True, constrained_layout=True)
  ax_wave.plot(np.arange(len(view.wave)) / rate, view.wave, lw=0.5, color="tab:blue")
  for i, word in enumerate(view.speech.words):
    ax_wave.axvspan(word.start_s, word.end_s, color=f"C{1 + i % 2}", alpha=0.2)
    ax_wave.text(word.start_s, 0.92, word.text, transform=ax_wave.get_xaxis_transform(),
                 fontsize=8, va="top", parse_math=False)
  ax_wave.set_ylabel("waveform")
  ax_wave.set_title(f"{view.speech.text!r}: {view.n_ticks} ticks of {layout.tick_ms} ms, "
                    f"{layout.tick_len} positions each", parse_math=False)
  extent = (0, duration, 0, layout.mel.n_mels)
  image = ax_mel.imshow(view.log_mel.T, origin="lower", aspect="auto", extent=extent,
                        cmap="magma", vmin=audio.DMEL_MIN, vmax=audio.DMEL_MAX)
  fig.colorbar(image, ax=ax_mel, label="log10 mel")
  ax_mel.set_ylabel("mel channel")
  image = ax_codes.imshow(view.codes.T, origin="lower", aspect="auto", extent=extent,
                          cmap="viridis", vmin=0, vmax=audio.DMEL_BINS - 1, interpolation="nearest")
  fig.colorbar(image, ax=ax_codes, label="dMel code")
  ax_codes.set_ylabel("mel channel")
  ax_codes.set_xlabel("time (s); grey lines: tick boundaries")
  for ax in (ax_wave, ax_mel, ax_codes):
    for tick in range(view.n_ticks + 1):
      ax.axvline(tick * layout.tick_ms / 1000, color="grey", lw=0.6, alpha=0.6)
  fig.savefig(path, dpi=110)
  plt.close(fig)


def write_outputs(view: StreamView, prefix: str) -> tuple[str, str]:
  """Writes `<prefix>.png` and `<prefix>_griffin_lim.wav`; returns both paths."""
  import soundfile  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
  png, wav = f"{prefix}.png", f"{prefix}_griffin_lim.wav"
  plot_stream(view, png)
  heard = audio.griffin_lim(audio.dmel_decode(view.codes), spec=view.layout.mel)
  peak = max(float(np.abs(heard).max()), 1e-6)
  soundfile.write(wav, heard / peak * 0.9, view.layout.mel.sample_rate, subtype="PCM_16")
  return png, wav
