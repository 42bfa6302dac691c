"""The micro-turn stream format: TickLayout, position maps, packing."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized
import ml_collections
import numpy as np

from data_pipelines import audio
from data_pipelines import stream
from data_pipelines import text
from data_pipelines.stream import Slot

LAYOUTS = {
    "default": stream.TickLayout(),
    "video_stacked": stream.TickLayout(frames_per_audio_token=2, video_height=80,
                                       video_width=120, text_in_tokens=3, bg_in_tokens=0),
    "fine_hop": stream.TickLayout(tick_ms=100, frames_per_audio_token=4, text_out_tokens=1,
                                  mel=audio.MelSpec(hop_ms=12.5)),
}


def _tick(layout: stream.TickLayout, seed: int, *, speak: bool = True):
  """Random inputs/outputs for one tick, with every slot kind used."""
  rng = np.random.default_rng(seed)
  shape = (layout.frames_per_tick, layout.mel.n_mels)
  video = None
  if layout.n_video_tokens:
    video = rng.integers(0, 256, (layout.video_height, layout.video_width, 3), dtype=np.uint8)
  inputs = stream.TickInputs(
      user_audio=rng.integers(0, audio.DMEL_BINS, shape),
      self_audio=rng.integers(0, audio.DMEL_BINS, shape) if speak else None,
      video=video,
      text_in=rng.integers(0, 256, rng.integers(0, layout.text_in_tokens + 1)),
      bg_in=[text.BG_START] * min(1, layout.bg_in_tokens))
  outputs = stream.TickOutputs(
      text_out=[text.SILENCE] if not speak else rng.integers(0, 256, layout.text_out_tokens),
      audio_out=rng.normal(-2.0, 1.0, shape).astype(np.float32) if speak else None)
  return inputs, outputs


class LayoutTest(parameterized.TestCase):

  def test_default_layout(self):
    layout = stream.TickLayout()
    self.assertEqual(layout.frames_per_tick, 8)
    self.assertEqual(layout.samples_per_tick, 3200)
    counts = [layout.count(k) for k in Slot]
    self.assertEqual(counts, [1, 8, 8, 0, 8, 8, 4, 8])
    self.assertEqual(layout.tick_len, 45)
    self.assertEqual((layout.input_len, layout.output_len), (33, 12))

  @parameterized.named_parameters(*LAYOUTS.items())
  def test_spans_partition_the_tick_in_order(self, layout):
    kinds = layout.slot_kinds
    self.assertLen(kinds, layout.tick_len)
    self.assertTrue(np.all(np.diff(kinds) >= 0))
    for kind in Slot:
      np.testing.assert_array_equal(np.flatnonzero(kinds == kind),
                                    np.arange(layout.span(kind).start, layout.span(kind).stop))
    self.assertTrue(np.all(kinds[:layout.input_len] < Slot.TEXT_OUT))
    self.assertTrue(np.all(kinds[layout.input_len:] >= Slot.TEXT_OUT))

  @parameterized.named_parameters(*LAYOUTS.items())
  def test_position_and_locate_are_inverse(self, layout):
    n_ticks = 5
    seen = []
    for tick in range(n_ticks):
      for kind in Slot:
        for index in range(layout.count(kind)):
          position = layout.position(tick, kind, index)
          self.assertEqual(layout.locate(position), (tick, kind, index))
          seen.append(position)
    self.assertEqual(sorted(seen), list(range(n_ticks * layout.tick_len)))
    np.testing.assert_array_equal(
        layout.episode_slot_kinds(n_ticks),
        [layout.locate(p)[1] for p in range(n_ticks * layout.tick_len)])

  def test_position_errors(self):
    layout = stream.TickLayout()
    with self.assertRaisesRegex(ValueError, "TEXT_OUT has 4 slots per tick; index 4"):
      layout.position(0, Slot.TEXT_OUT, 4)
    with self.assertRaisesRegex(ValueError, "VIDEO has 0 slots"):
      layout.position(0, Slot.VIDEO, 0)
    with self.assertRaisesRegex(ValueError, "position must be >= 0"):
      layout.locate(-1)
    with self.assertRaisesRegex(ValueError, "not a multiple of tick_len=45"):
      layout.n_ticks(100)
    self.assertEqual(layout.n_ticks(90), 2)

  def test_bad_layouts(self):
    with self.assertRaisesRegex(ValueError, "frames_per_audio_token=3 must divide the 8"):
      stream.TickLayout(frames_per_audio_token=3)
    with self.assertRaisesRegex(ValueError, "not a whole number of 25.0 ms hops"):
      stream.TickLayout(tick_ms=210)
    with self.assertRaisesRegex(ValueError, "both be 0"):
      stream.TickLayout(video_height=40)
    with self.assertRaisesRegex(ValueError, "does not tile into 40x40"):
      stream.TickLayout(video_height=40, video_width=60)
    with self.assertRaisesRegex(ValueError, "text_out_tokens must be >= 1"):
      stream.TickLayout(text_out_tokens=0)

  def test_from_config(self):
    config = ml_collections.ConfigDict(dict(tick_ms=200, frames_per_audio_token=2,
                                            video_height=40, video_width=40,
                                            mel=dict(n_mels=80, hop_ms=25.0)))
    layout = stream.TickLayout.from_config(config)
    self.assertEqual(layout.n_audio_tokens, 4)
    self.assertEqual(layout.n_video_tokens, 1)
    config.unknown_field = 1
    with self.assertRaisesRegex(ValueError, "unknown TickLayout fields.*unknown_field"):
      stream.TickLayout.from_config(config)


class PackTest(parameterized.TestCase):

  @parameterized.named_parameters(*LAYOUTS.items())
  def test_pack_unpack_round_trip(self, layout):
    for seed, speak in ((0, True), (1, False)):
      inputs, outputs = _tick(layout, seed, speak=speak)
      packed = layout.pack(inputs, outputs)
      self.assertEqual(packed.tokens.shape, (layout.tick_len,))
      self.assertEqual(packed.tokens.dtype, np.int32)
      self.assertEqual(packed.user_audio.shape,
                       (layout.n_audio_tokens, layout.frames_per_audio_token, 80))
      self.assertEqual(packed.video.shape, (layout.n_video_tokens, 40, 40, 3))
      self.assertEqual(packed.audio_out.dtype, np.float32)
      got_in, got_out = layout.unpack(packed)
      np.testing.assert_array_equal(got_in.user_audio, inputs.user_audio)
      if speak:
        np.testing.assert_array_equal(got_in.self_audio, inputs.self_audio)
        np.testing.assert_array_equal(got_out.audio_out, outputs.audio_out)
      else:
        self.assertIsNone(got_in.self_audio)
        self.assertIsNone(got_out.audio_out)
      if layout.n_video_tokens:
        np.testing.assert_array_equal(got_in.video, inputs.video)
      self.assertEqual(got_in.text_in, tuple(int(t) for t in inputs.text_in))
      self.assertEqual(got_in.bg_in, tuple(inputs.bg_in))
      self.assertEqual(got_out.text_out, tuple(int(t) for t in outputs.text_out))

  def test_tokens_and_presence(self):
    layout = stream.TickLayout()
    packed = layout.pack(stream.TickInputs(text_in=text.encode("hi")),
                         stream.TickOutputs(text_out=[text.SILENCE]))
    self.assertEqual(packed.tokens[0], text.TICK)
    np.testing.assert_array_equal(packed.tokens[layout.span(Slot.TEXT_IN)][:3],
                                  [ord("h"), ord("i"), text.PAD])
    self.assertEqual(packed.tokens[layout.span(Slot.TEXT_OUT)][0], text.SILENCE)
    expected_present = np.zeros(layout.tick_len, bool)
    expected_present[[0, layout.offset(Slot.TEXT_IN), layout.offset(Slot.TEXT_IN) + 1,
                      layout.offset(Slot.TEXT_OUT)]] = True
    np.testing.assert_array_equal(packed.present, expected_present)
    audio_positions = packed.tokens[layout.slot_kinds == Slot.USER_AUDIO]
    self.assertTrue(np.all(audio_positions == text.PAD))

  @parameterized.named_parameters(*LAYOUTS.items())
  def test_episode_is_n_ticks_times_tick_len(self, layout):
    ticks = [_tick(layout, seed, speak=seed % 2 == 0) for seed in range(7)]
    episode = layout.pack_episode([i for i, _ in ticks], [o for _, o in ticks])
    self.assertEqual(episode.leading_shape, (7,))
    flat = episode.flat_tokens()
    self.assertEqual(flat.shape, (7 * layout.tick_len,))
    for tick, (inputs, outputs) in enumerate(ticks):
      np.testing.assert_array_equal(flat[tick * layout.tick_len:(tick + 1) * layout.tick_len],
                                    layout.pack(inputs, outputs).tokens)
    batch = stream.PackedTicks.stack([episode, episode])
    self.assertEqual(batch.flat_tokens().shape, (2, 7 * layout.tick_len))

  def test_real_audio_codes_per_tick(self):
    layout = stream.TickLayout()
    t = np.arange(3 * layout.samples_per_tick) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    codes = layout.split_frames(audio.dmel_encode(audio.log_mel(wave, 16000)))
    self.assertEqual(codes.shape, (3, 8, 80))
    episode = layout.pack_episode([stream.TickInputs(user_audio=c) for c in codes])
    np.testing.assert_array_equal(episode.user_audio.reshape(3, 8, 80), codes)
    self.assertTrue(episode.present[:, layout.span(Slot.USER_AUDIO)].all())
    self.assertFalse(episode.present[:, layout.span(Slot.SELF_AUDIO)].any())

  def test_bad_inputs(self):
    layout = stream.TickLayout()
    codes = np.zeros((8, 80), np.int32)
    cases = [
        (stream.TickInputs(text_in=[65] * 9), "text_in has 9 tokens but its slots hold at most 8"),
        (stream.TickInputs(bg_in=[400]), r"bg_in must lie in \[0, 384\)"),
        (stream.TickInputs(user_audio=codes[:7]), r"user_audio must have shape \(8, 80\)"),
        (stream.TickInputs(user_audio=codes + 16), r"dMel codes must lie in \[0, 16\)"),
        (stream.TickInputs(self_audio=codes.astype(np.float32)), "must be integers"),
        (stream.TickInputs(video=np.zeros((40, 40, 3), np.uint8)), "no video slots"),
    ]
    for inputs, message in cases:
      with self.assertRaisesRegex(ValueError, message):
        layout.pack(inputs)
    with self.assertRaisesRegex(ValueError, "text_out has 5 tokens"):
      layout.pack(stream.TickInputs(), stream.TickOutputs(text_out=[text.SILENCE] * 5))
    nan_mel = np.full((8, 80), np.nan, np.float32)
    with self.assertRaisesRegex(ValueError, "audio_out has non-finite"):
      layout.pack(stream.TickInputs(), stream.TickOutputs(audio_out=nan_mel))
    with self.assertRaisesRegex(ValueError, "audio_out must be float"):
      layout.pack(stream.TickInputs(), stream.TickOutputs(audio_out=codes))
    video_layout = stream.TickLayout(video_height=80, video_width=80)
    with self.assertRaisesRegex(ValueError, "must be 80x80 pixels, got 40x80"):
      video_layout.pack(stream.TickInputs(video=np.zeros((40, 80, 3), np.uint8)))
    with self.assertRaisesRegex(ValueError, "3 tick inputs but 2 tick outputs"):
      layout.pack_episode([stream.TickInputs()] * 3, [stream.TickOutputs()] * 2)


if __name__ == "__main__":
  absltest.main()
