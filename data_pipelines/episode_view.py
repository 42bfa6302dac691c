"""Shows a rendered episode to a person: a timeline plot and a stereo WAV.

The timeline has one lane per stream on the tick grid: the mic (user and other
speakers, words labelled), the model's target speech (words labelled), the
text channels per tick (model text out, typed text in, background results in),
video thumbnails when the episode has a scene, and the ground-truth marks a
family lists under `truth["marks"]` (dicts with "label", "start_ms" and
optionally "end_ms"; a mark without an end is drawn as a line).
"""

import numpy as np

from data_pipelines import episode as episode_lib
from data_pipelines import text
from data_pipelines import video
from data_pipelines.stream import Slot

_SPEAKER_COLOURS = {"user": "tab:blue", "other": "tab:gray", "model": "tab:orange"}


def channel_text(ep: episode_lib.Episode, kind: Slot) -> list[str]:
  """Per tick, the decoded tokens of a text slot kind (pads dropped)."""
  layout = ep.layout
  out = []
  for tick_tokens in ep.ticks.tokens[:, layout.span(kind)]:
    ids = [int(t) for t in tick_tokens if t != text.PAD]
    out.append(text.decode(ids, errors="replace"))
  return out


def plot_episode(ep: episode_lib.Episode, path: str, *, max_thumbnails: int = 24) -> None:
  """Writes the timeline PNG of `ep` to `path`."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  layout, script = ep.layout, ep.script
  n_ticks, tick_s = script.n_ticks, layout.tick_ms / 1000
  duration = n_ticks * tick_s
  has_video = script.scene is not None
  rows = 4 + has_video
  fig, axes = plt.subplots(rows, 1, figsize=(max(10, 0.9 * duration + 3), 2.2 * rows),
                           sharex=True, constrained_layout=True,
                           gridspec_kw={"height_ratios": [2, 2, 2.4, 1] + [1.4] * has_video})
  time = np.arange(len(ep.mic)) / layout.mel.sample_rate
  for ax, track, speakers in ((axes[0], ep.mic, ("user", "other")),
                              (axes[1], ep.model_audio, ("model",))):
    ax.plot(time, track, lw=0.4, color=_SPEAKER_COLOURS[speakers[0]])
    for word in ep.words:
      if word.speaker in speakers:
        ax.axvspan(word.start_ms / 1000, word.end_ms / 1000, alpha=0.15,
                   color=_SPEAKER_COLOURS[word.speaker])
        ax.text(word.start_ms / 1000, 0.95, word.text, transform=ax.get_xaxis_transform(),
                fontsize=7, va="top", rotation=30, color=_SPEAKER_COLOURS[word.speaker],
                parse_math=False)
    ax.set_ylim(-1, 1)
  axes[0].set_ylabel("mic\n(user, other)")
  axes[1].set_ylabel("model speech\n(target)")
  axes[0].set_title(f"{script.family}: {n_ticks} ticks of {layout.tick_ms} ms")

  lanes = (("text out", Slot.TEXT_OUT, "tab:orange"), ("text in", Slot.TEXT_IN, "tab:blue"),
           ("bg in", Slot.BG_IN, "tab:green"))
  for row, (name, kind, colour) in enumerate(lanes):
    for tick, chunk in enumerate(channel_text(ep, kind)):
      if chunk:
        label = "·" if chunk == "<silence>" else chunk.replace("<", "‹").replace(">", "›")
        axes[2].text((tick + 0.5) * tick_s, 2 - row, label, fontsize=6, ha="center",
                     va="center", color=colour, rotation=90 if len(label) > 2 else 0,
                     parse_math=False)
  axes[2].set_ylim(-0.7, 2.7)
  axes[2].set_yticks([2, 1, 0], [lane[0] for lane in lanes])
  axes[2].set_ylabel("text per tick\n(· = silence)")

  marks = list(script.truth.get("marks", ()))
  for i, mark in enumerate(marks):
    start = mark["start_ms"] / 1000
    colour = f"C{i % 10}"
    if mark.get("end_ms") is None:
      axes[3].axvline(start, color=colour, lw=1.5)
    else:
      axes[3].axvspan(start, mark["end_ms"] / 1000, color=colour, alpha=0.35)
    axes[3].text(start, 0.5 + 0.4 * ((i % 2) - 0.5), mark["label"], fontsize=7, color="black",
                 transform=axes[3].get_xaxis_transform(), va="center", parse_math=False)
  axes[3].set_yticks([])
  axes[3].set_ylabel("ground\ntruth")

  if has_video:
    ax = axes[4]
    step = max(1, n_ticks // max_thumbnails)
    for tick in range(0, n_ticks, step):
      image = _frame_of(ep, tick)
      ax.imshow(image, extent=(tick * tick_s, (tick + step) * tick_s, 0, 1), aspect="auto")
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("video")
  for ax in axes:
    for tick in range(n_ticks + 1):
      ax.axvline(tick * tick_s, color="grey", lw=0.3, alpha=0.5)
  axes[-1].set_xlim(0, duration)
  axes[-1].set_xlabel("time (s); grey lines: tick boundaries")
  fig.savefig(path, dpi=100)
  plt.close(fig)


def _frame_of(ep: episode_lib.Episode, tick: int) -> np.ndarray:
  """The camera frame the model saw in `tick`, reassembled from its patches."""
  layout = ep.layout
  rows, cols = video.patch_grid(layout.video_height, layout.video_width)
  return video.unpatchify(ep.ticks.video[tick], rows, cols)


def write_stereo_wav(ep: episode_lib.Episode, path: str) -> None:
  """Writes a 16 kHz stereo WAV: the mic on the left, the model on the right."""
  import soundfile  # pylint: disable=g-import-not-at-top
  stereo = np.stack([ep.mic, ep.model_audio], axis=1)
  soundfile.write(path, stereo, ep.layout.mel.sample_rate, subtype="PCM_16")
