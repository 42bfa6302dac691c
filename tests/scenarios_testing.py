"""Helpers shared by the scenario family tests (`tests/scenarios_*_test.py`).

Layouts, rendering through the default speech cache, reading a rendered
episode's slots and audio, and the checks every family makes the same way
(determinism, utterances heard when the truth says, silent spans, video
frames). The checks take the running `absltest.TestCase` and fail through it.
"""

from collections.abc import Callable, Iterable, Sequence
import dataclasses
import functools
import json
import os
import re
import tempfile

from absl.testing import absltest
import numpy as np

from data_pipelines import episode
from data_pipelines import scenes
from data_pipelines import speech_cache
from data_pipelines import stream
from data_pipelines import text
from data_pipelines import video
from data_pipelines.scenarios import common
from data_pipelines.stream import Slot

TICK_MS = 200
# Audio-only families (timespeak, cuespeak, turntaking, delegation).
TINY_AUDIO = stream.TickLayout(frames_per_audio_token=2, text_in_tokens=4, bg_in_tokens=4,
                               text_out_tokens=4)
AUDIO_LAYOUTS = {"tiny": TINY_AUDIO, "default": stream.TickLayout()}
# Video families (repcount, proactive_qa, charades).
TINY_VIDEO = stream.TickLayout(frames_per_audio_token=2, video_height=40, video_width=40,
                               text_in_tokens=4, bg_in_tokens=4, text_out_tokens=4)
VIDEO_LAYOUTS = {"tiny": TINY_VIDEO, "default": stream.TickLayout(video_height=80, video_width=80)}
_SAMPLES_PER_MS = 16


class TemporaryCache:
  """Points $MICROTURN_CACHE at a fresh temporary directory between set_up and tear_down.

  Use as `setUpModule = cache.set_up; tearDownModule = cache.tear_down`; the
  previous value (or its absence) is restored.
  """

  def __init__(self):
    self._saved: str | None = None
    self._dir: tempfile.TemporaryDirectory | None = None

  def set_up(self) -> None:
    self._dir = tempfile.TemporaryDirectory()
    self._saved = os.environ.get("MICROTURN_CACHE")
    os.environ["MICROTURN_CACHE"] = self._dir.name

  def tear_down(self) -> None:
    if self._saved is None:
      os.environ.pop("MICROTURN_CACHE", None)
    else:
      os.environ["MICROTURN_CACHE"] = self._saved
    self._dir.cleanup()


def render(script: episode.EpisodeScript, layout: stream.TickLayout) -> episode.Episode:
  """`script` rendered in `layout` through the default speech cache."""
  return episode.render(script, layout, speech_cache.SpeechCache())


def script_maker(make_script: Callable[..., episode.EpisodeScript],
                 n_ticks: int) -> Callable[..., episode.EpisodeScript]:
  """A cached make(seed, split="train", n_ticks=n_ticks, **options).

  It returns make_script(np.random.default_rng(seed), split, n_ticks,
  TICK_MS, **options): the same script object for the same arguments.
  """
  default_n_ticks = n_ticks

  @functools.lru_cache(maxsize=None)
  def make(seed: int, split: str = "train", n_ticks: int = default_n_ticks,
           **options) -> episode.EpisodeScript:
    return make_script(np.random.default_rng(seed), split, n_ticks, TICK_MS, **options)

  return make


def renderer(make: Callable[[int], episode.EpisodeScript],
             layouts: dict[str, stream.TickLayout]) -> Callable[[int, str], episode.Episode]:
  """A cached render(seed, layout_name): make(seed) rendered in layouts[layout_name]."""

  @functools.lru_cache(maxsize=None)
  def render_seed(seed: int, layout_name: str) -> episode.Episode:
    return render(make(seed), layouts[layout_name])

  return render_seed


# Reading a rendered episode ----------------------------------------------------


def slot_tokens(ep: episode.Episode, kind: Slot = Slot.TEXT_OUT) -> list[list[int]]:
  """The non-pad tokens of `kind` slots in every tick."""
  rows = ep.ticks.tokens[:, ep.layout.span(kind)]
  return [[int(t) for t in row if t != text.PAD] for row in rows]


def text_out(ep: episode.Episode) -> list[str]:
  """Per tick, the decoded text-out slots (pads dropped)."""
  return [text.decode(row) for row in slot_tokens(ep)]


def speaks(ep: episode.Episode) -> np.ndarray:
  """bool [n_ticks]: tick t's audio out is present (the model is heard in tick t + 1)."""
  return ep.ticks.present[:, ep.layout.span(Slot.AUDIO_OUT)].any(axis=-1)


def heard(track: np.ndarray, tick: int) -> bool:
  """Whether `track` (16 kHz) holds any sound in tick `tick` of TICK_MS."""
  samples = TICK_MS * _SAMPLES_PER_MS
  return bool(np.any(track[tick * samples:(tick + 1) * samples]))


def rms(track: np.ndarray, start_ms: float, end_ms: float) -> float:
  """The RMS level of `track` (16 kHz) in [start_ms, end_ms); 0.0 when that is empty."""
  part = track[int(start_ms * _SAMPLES_PER_MS):int(end_ms * _SAMPLES_PER_MS)]
  return float(np.sqrt(np.mean(np.square(part, dtype=np.float64)))) if part.size else 0.0


def pattern(template: str) -> re.Pattern:
  """A regex matching `template` with any text in its {fields}."""
  pieces = re.split(r"\{\w+\}", template)
  return re.compile("(.+)".join(re.escape(p) for p in pieces))


def matching(sentence: str, templates: Iterable[str]) -> list[str]:
  """The templates that `sentence` fills."""
  return [t for t in templates if pattern(t).fullmatch(sentence)]


# Checks -----------------------------------------------------------------------


def assert_family(test: absltest.TestCase, module, name: str, needs_video: bool) -> None:
  """`module.FAMILY` is called `name`, says whether it needs video, and builds with make_script."""
  family: common.Family = module.FAMILY
  test.assertEqual(family.name, name)
  test.assertEqual(family.needs_video, needs_video)
  test.assertIs(family.make_script, module.make_script)


def assert_deterministic(test: absltest.TestCase, make: Callable[[], episode.EpisodeScript],
                         layout: stream.TickLayout) -> episode.EpisodeScript:
  """Two calls of `make` give equal scripts and truth and bit-identical renders.

  Every `stream.PackedTicks` field, the mic and the model audio are compared.
  Returns the first script.
  """
  first, second = make(), make()
  test.assertEqual(first, second)
  test.assertEqual(json.dumps(first.truth, sort_keys=True),
                   json.dumps(second.truth, sort_keys=True))
  a, b = render(first, layout), render(second, layout)
  for field in dataclasses.fields(stream.PackedTicks):
    np.testing.assert_array_equal(getattr(a.ticks, field.name), getattr(b.ticks, field.name))
  np.testing.assert_array_equal(a.mic, b.mic)
  np.testing.assert_array_equal(a.model_audio, b.model_audio)
  return first


def assert_spoken_on_time(test: absltest.TestCase, ep: episode.Episode,
                          utterances: Sequence[dict]) -> None:
  """Utterances with `planning.span`s (timespeak, cuespeak) are what the model says.

  The outputs of tick start_tick - 1 carry each one's first words and (but
  for espeak's few ms of leading silence) the audio heard in start_tick; its
  audio is heard; text-out holds exactly the utterances' texts, in order.
  """
  out, speaking = text_out(ep), speaks(ep)
  for u in utterances:
    t = u["start_tick"]
    test.assertTrue(out[t - 1].startswith(u["text"][:4]), (out[t - 1], u["text"]))
    test.assertTrue(speaking[t - 1] or speaking[t])
    test.assertGreater(rms(ep.model_audio, u["start_ms"], u["end_ms"]), 0.01)
  test.assertEqual("".join(out).replace("<silence>", ""), "".join(u["text"] for u in utterances))


def assert_silent_ticks(test: absltest.TestCase, ep: episode.Episode,
                        silent_spans: Sequence[dict]) -> None:
  """No model output is heard in the ticks of `planning.span`s (end_tick inclusive).

  The outputs of the tick before each one are <silence> and no audio.
  """
  out, speaking = text_out(ep), speaks(ep)
  for quiet in silent_spans:
    for t in range(max(quiet["start_tick"], 1), quiet["end_tick"] + 1):
      test.assertEqual(out[t - 1], "<silence>", f"tick {t - 1}")
      test.assertFalse(speaking[t - 1])


def exclusive_ticks(spans: Sequence[dict]) -> list[int]:
  """The ticks of `planning.span_exclusive` spans (end_tick exclusive), in order."""
  return [t for s in spans for t in range(s["start_tick"], s["end_tick"])]


def assert_quiet(test: absltest.TestCase, ep: episode.Episode, chunks: Sequence[str],
                 ticks: Iterable[int]) -> None:
  """No model audio in `ticks`, and <silence> in the text-out of the tick before each."""
  for t in ticks:
    test.assertFalse(heard(ep.model_audio, t), t)
    if t:
      test.assertEqual(chunks[t - 1], "<silence>", t)


def assert_reaction_heard(test: absltest.TestCase, ep: episode.Episode, chunks: Sequence[str],
                          u: dict) -> None:
  """A video-family utterance's text goes out in the tick before its `tick`, heard from then."""
  test.assertTrue(u["text"].startswith(chunks[u["tick"] - 1]), (chunks[u["tick"] - 1], u))
  test.assertNotIn("<silence>", chunks[u["tick"] - 1])
  test.assertFalse(heard(ep.model_audio, u["tick"] - 1))
  test.assertTrue(heard(ep.model_audio, u["tick"]))


def assert_frames(test: absltest.TestCase, ep: episode.Episode, ticks: Iterable[int]) -> None:
  """Video is present in every tick, and the frames of `ticks` are the scene at each tick's end."""
  layout, scene = ep.layout, ep.script.scene
  test.assertTrue(ep.ticks.present[:, layout.span(Slot.VIDEO)].all())
  for t in ticks:
    frame = scene.frame(scenes.frame_time_s(t, TICK_MS), layout.video_height, layout.video_width)
    np.testing.assert_array_equal(ep.ticks.video[t], video.patchify(frame))


def assert_request_heard(test: absltest.TestCase, ep: episode.Episode, request: dict) -> None:
  """The mic is silent before the user's `request` and holds sound in its middle tick."""
  test.assertFalse(np.any(ep.mic[:request["start_ms"] * _SAMPLES_PER_MS]))
  test.assertTrue(heard(ep.mic, (request["start_tick"] + request["end_tick"]) // 2))
