"""Byte-level tokenizer with special tokens."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from data_pipelines import text


class TextTest(parameterized.TestCase):

  @parameterized.parameters(
      "", "hello", "Grüße, 世界! 🎙️", "tab\tnew\nline", "<delegate> is only text here",
      "\x00\x7f", "ça va? ¿qué tal? 你好吗")
  def test_round_trips_any_utf8(self, s):
    ids = text.encode(s)
    self.assertEqual(ids.dtype, np.int32)
    self.assertTrue(np.all((ids >= 0) & (ids < 256)))
    self.assertEqual(text.decode(ids), s)

  def test_random_unicode_round_trips(self):
    rng = np.random.default_rng(0)
    for _ in range(50):
      points = rng.integers(1, 0x10FFFF, size=rng.integers(0, 20))
      s = "".join(chr(p) for p in points if not 0xD800 <= p < 0xE000)  # no surrogates
      self.assertEqual(text.decode(text.encode(s)), s)

  def test_specials_are_parsed_only_when_allowed(self):
    plain = text.encode("say <delegate>")
    self.assertNotIn(text.DELEGATE, plain)
    marked = text.encode("say <delegate> now<eos>", allow_special=True)
    self.assertIn(text.DELEGATE, marked)
    self.assertEqual(marked[-1], text.special_id("eos"))
    self.assertEqual(text.decode(marked), "say <delegate> now<eos>")
    self.assertEqual(text.decode(marked, skip_special=True), "say  now")

  def test_special_ids_are_distinct_and_in_vocab(self):
    ids = [text.special_id(n) for n in text.SPECIAL_TOKENS]
    self.assertLen(set(ids), len(ids))
    self.assertTrue(all(256 <= i < text.VOCAB_SIZE for i in ids))
    self.assertEqual(text.special_id("<pad>"), text.PAD)
    self.assertEqual(text.VOCAB_SIZE % 128, 0)

  def test_unknown_special_is_an_error(self):
    with self.assertRaisesRegex(ValueError, "unknown special token 'shout'.*<delegate>"):
      text.special_id("shout")
    with self.assertRaisesRegex(ValueError, "unknown special token 'shout'"):
      text.encode("a <shout> b", allow_special=True)

  def test_decode_rejects_ids_outside_the_vocabulary(self):
    with self.assertRaisesRegex(ValueError, "token id 383"):
      text.decode([65, 383])
    with self.assertRaisesRegex(ValueError, "token id -1"):
      text.decode([-1])

  def test_partial_utf8_decodes_leniently_when_asked(self):
    ids = text.encode("é")[:1]
    with self.assertRaises(UnicodeDecodeError):
      text.decode(ids)
    self.assertEqual(text.decode(ids, errors="replace"), "\ufffd")

  def test_pad_to(self):
    np.testing.assert_array_equal(text.pad_to([1, 2], 4), [1, 2, text.PAD, text.PAD])
    with self.assertRaisesRegex(ValueError, "text_in has 5 tokens but its slots hold at most 4"):
      text.pad_to([1] * 5, 4, what="text_in")
    with self.assertRaisesRegex(ValueError, r"must lie in \[0, 384\)"):
      text.pad_to([1, 999], 4)

  def test_non_string_input_is_an_error(self):
    with self.assertRaisesRegex(ValueError, "expects str text, got bytes"):
      text.encode(b"abc")


if __name__ == "__main__":
  absltest.main()
