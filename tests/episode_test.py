"""Episode scripts rendered to ticks, and the content-addressed speech cache."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import os
import threading

from absl.testing import absltest
import numpy as np

from data_pipelines import audio
from data_pipelines import episode
from data_pipelines import speech
from data_pipelines import speech_cache
from data_pipelines import stream
from data_pipelines import text
from data_pipelines.stream import Slot

USER = speech_cache.Voice("en-gb", 170, 40)
MODEL = speech_cache.Voice("en-us+m3", 180, 45)
LAYOUT = stream.TickLayout(frames_per_audio_token=2, text_in_tokens=4, bg_in_tokens=4)


def _script(**overrides):
  values = dict(
      family="test", n_ticks=40,
      lines=(episode.Line("user", "Tell me when five seconds have passed.", 200, USER),
             episode.Line("model", "Okay, I will.", 2600, MODEL),
             episode.Line("model", "Five seconds have passed.", 4800, MODEL)),
      typed=((3, "hello world"),), controls=((20, "delegate"),), background=((22, "42"),))
  values.update(overrides)
  return episode.EpisodeScript(**values)


def _text_out(ep: episode.Episode, tick: int) -> list[int]:
  ids = ep.ticks.tokens[tick, LAYOUT.span(Slot.TEXT_OUT)]
  return [int(i) for i in ids if i != text.PAD]


class SpeechCacheTest(absltest.TestCase):

  def test_cached_equals_fresh_and_hits(self):
    cache = speech_cache.SpeechCache(self.create_tempdir().full_path)
    fresh = speech.synthesize("Count to three.", voice="en-gb", rate=170, pitch=40)
    first = cache.synthesize("Count to three.", USER)
    second = cache.synthesize("Count to three.", USER)
    self.assertEqual((cache.misses, cache.hits), (1, 1))
    for got in (first, second):
      np.testing.assert_array_equal(got.audio, fresh.audio)
      self.assertEqual(got.words, fresh.words)
      self.assertEqual(got.text, fresh.text)

  def test_key_covers_every_parameter(self):
    cache = speech_cache.SpeechCache(self.create_tempdir().full_path)
    paths = {cache.path("Hi.", USER), cache.path("Hi!", USER),
             cache.path("Hi.", speech_cache.Voice("en-gb", 171, 40)),
             cache.path("Hi.", speech_cache.Voice("en-gb", 170, 41)),
             cache.path("Hi.", speech_cache.Voice("en-us", 170, 40))}
    self.assertLen(paths, 5)

  def test_corrupt_entry_is_rebuilt(self):
    cache = speech_cache.SpeechCache(self.create_tempdir().full_path)
    good = cache.synthesize("Stop.", USER)
    with open(cache.path("Stop.", USER), "wb") as f:
      f.write(b"not a zip file")
    with self.assertLogs(level="WARNING"):
      again = cache.synthesize("Stop.", USER)
    np.testing.assert_array_equal(again.audio, good.audio)
    self.assertEqual(speech_cache.SpeechCache(cache.directory).synthesize("Stop.", USER).words,
                     good.words)

  def test_concurrent_readers_and_writers(self):
    directory = self.create_tempdir().full_path
    texts = [f"Number {i}." for i in range(6)]
    results, errors = [], []

    def work():
      try:
        cache = speech_cache.SpeechCache(directory)
        results.append([cache.synthesize(t, USER).audio.tobytes() for t in texts])
      except Exception as error:  # pylint: disable=broad-except
        errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
      thread.start()
    for thread in threads:
      thread.join()
    self.assertEmpty(errors)
    self.assertTrue(all(r == results[0] for r in results))
    leftovers = [f for _, _, files in os.walk(directory) for f in files if f.endswith(".tmp")]
    self.assertEmpty(leftovers)


class RenderTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.cache = speech_cache.SpeechCache(os.path.join(absltest.get_default_test_tmpdir(), "speech"))
    cls.ep = episode.render(_script(), LAYOUT, cls.cache)

  def test_shapes(self):
    ep = self.ep
    self.assertEqual(ep.ticks.leading_shape, (40,))
    self.assertEqual(ep.ticks.flat_tokens().shape, (40 * LAYOUT.tick_len,))
    self.assertEqual(ep.mic.shape, (40 * LAYOUT.samples_per_tick,))
    self.assertEqual(ep.model_audio.shape, ep.mic.shape)

  def test_model_text_decodes_to_its_lines_in_order(self):
    spoken = "".join(text.decode(_text_out(self.ep, t)) for t in range(40))
    self.assertEqual(spoken.replace("<silence>", ""),
                     "Okay, I will.<delegate>Five seconds have passed.")

  def test_text_starts_one_tick_before_the_word_is_heard(self):
    okay = self.ep.words[[w.text for w in self.ep.words].index("Okay")]
    heard_tick = int(okay.start_ms // LAYOUT.tick_ms)
    self.assertEqual(text.decode(_text_out(self.ep, heard_tick - 1)), "Okay")
    self.assertEqual(_text_out(self.ep, heard_tick - 2), [text.SILENCE])

  def test_audio_out_is_next_ticks_speech_and_self_audio_follows(self):
    ticks = self.ep.ticks
    samples = LAYOUT.samples_per_tick
    audio_out = ticks.present[:, LAYOUT.span(Slot.AUDIO_OUT)].all(axis=1)
    self_audio = ticks.present[:, LAYOUT.span(Slot.SELF_AUDIO)].all(axis=1)
    heard = np.array([np.any(self.ep.model_audio[t * samples:(t + 1) * samples]) for t in range(40)])
    np.testing.assert_array_equal(audio_out[:-1], heard[1:])
    np.testing.assert_array_equal(self_audio, heard)
    # Self audio of tick t is the dMel of the audio out of tick t - 1.
    for t in np.flatnonzero(self_audio):
      np.testing.assert_array_equal(ticks.self_audio[t], audio.dmel_encode(ticks.audio_out[t - 1]))
    # Silence ticks say so explicitly.
    for t in range(39):
      if not audio_out[t] and not _text_out(self.ep, t):
        self.fail(f"tick {t} has neither text nor <silence>")

  def test_typed_and_background_text_are_queued(self):
    tokens = self.ep.ticks.tokens
    typed = [tokens[t, LAYOUT.span(Slot.TEXT_IN)] for t in range(3, 6)]
    self.assertEqual(text.decode(np.concatenate(typed), skip_special=True), "hello world")
    bg = tokens[22, LAYOUT.span(Slot.BG_IN)]
    self.assertEqual(text.decode(bg), "<bg_start>42<bg_end>")
    self.assertFalse(self.ep.ticks.present[:3, LAYOUT.span(Slot.TEXT_IN)].any())

  def test_mic_holds_the_user_line(self):
    user_words = [w for w in self.ep.words if w.speaker == "user"]
    self.assertEqual([w.text for w in user_words],
                     ["Tell", "me", "when", "five", "seconds", "have", "passed"])
    start = int(user_words[0].start_ms * 16)
    self.assertGreater(np.abs(self.ep.mic[start:start + 3200]).max(), 0.05)
    self.assertEqual(np.abs(self.ep.mic[:3200]).max(), 0.0)

  def test_deterministic(self):
    again = episode.render(_script(), LAYOUT, self.cache)
    for field in ("tokens", "present", "user_audio", "self_audio", "audio_out"):
      np.testing.assert_array_equal(getattr(again.ticks, field), getattr(self.ep.ticks, field))

  def test_bad_scripts(self):
    with self.assertRaisesRegex(ValueError, "after the episode's end"):
      episode.render(_script(n_ticks=20), LAYOUT, self.cache)
    with self.assertRaisesRegex(ValueError, "first output is heard at 200 ms"):
      episode.render(_script(lines=(episode.Line("model", "Hi.", 100, MODEL),)), LAYOUT, self.cache)
    with self.assertRaisesRegex(ValueError, "tick 45 is outside the episode's 40 ticks"):
      episode.render(_script(typed=((45, "x"),)), LAYOUT, self.cache)
    with self.assertRaisesRegex(ValueError, "do not fit"):
      episode.render(_script(typed=((39, "far too long for one tick"),)), LAYOUT, self.cache)
    with self.assertRaisesRegex(ValueError, "unknown special token"):
      episode.render(_script(controls=((5, "shout"),)), LAYOUT, self.cache)
    with self.assertRaisesRegex(ValueError, "no video slots"):
      episode.render(_script(scene=object()), LAYOUT, self.cache)
    with self.assertRaisesRegex(ValueError, "unknown speaker"):
      episode.Line("narrator", "Hi.", 0, USER)


if __name__ == "__main__":
  absltest.main()
