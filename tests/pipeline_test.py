"""grain pipelines: determinism, mixing, sharding, fixed-length examples, resume."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
import grain
import numpy as np
import orbax.checkpoint as ocp

from data_pipelines import episode
from data_pipelines import pipeline
from data_pipelines import scenarios
from data_pipelines import speech_cache
from data_pipelines import stream
from data_pipelines import text
from data_pipelines.scenarios import common
from data_pipelines.stream import Slot

LAYOUT = stream.TickLayout(frames_per_audio_token=2, text_in_tokens=4, bg_in_tokens=4)


def _counting_family(name: str):
  """A small family for pipeline tests: the user asks, the model answers a number."""

  def make_script(rng, split, n_ticks, tick_ms):
    if n_ticks < 20:
      raise ValueError(f"{name} needs at least 20 ticks, got {n_ticks}")
    count = int(rng.integers(1, 10))
    return episode.EpisodeScript(
        family=name, n_ticks=n_ticks,
        lines=(episode.Line("user", f"Count to {count}.", int(rng.integers(0, 800)),
                            common.user_voice(rng, split)),
               episode.Line("model", f"{count}.", 10 * tick_ms, common.ASSISTANT_VOICE)),
        truth={"count": count})

  return common.Family(name, make_script)


def setUpModule():
  for name in ("count_a", "count_b"):
    scenarios.FAMILIES[name] = _counting_family(name)


def tearDownModule():
  for name in ("count_a", "count_b"):
    scenarios.FAMILIES.pop(name)


def _spec(**overrides):
  values = dict(families={"count_a": 1.0, "count_b": 2.0}, n_ticks=24, batch_size=3,
                episodes_per_epoch=6, seed=0)
  values.update(overrides)
  return pipeline.DataSpec(**values)


def _take(iterator, n):
  return [next(iterator) for _ in range(n)]


def _assert_batches_equal(test, left, right):
  test.assertEqual(len(left), len(right))
  for a, b in zip(left, right):
    test.assertEqual(sorted(a), sorted(b))
    for key in a:
      np.testing.assert_array_equal(a[key], b[key], err_msg=key)


class ExampleTest(absltest.TestCase):

  def test_fixed_length_example_with_targets_and_masks(self):
    ep = pipeline.build_episode("count_a", 0, split="train", seed=0, n_ticks=24, layout=LAYOUT,
                                cache=speech_cache.SpeechCache())
    example = pipeline.to_example(ep)
    length = 24 * LAYOUT.tick_len
    for key in ("tokens", "present", "text_targets", "text_loss_mask", "flow_loss_mask"):
      self.assertEqual(example[key].shape, (length,), msg=key)
    self.assertEqual(example["user_audio"].shape, (24 * LAYOUT.n_audio_tokens, 2, 80))
    kinds = LAYOUT.episode_slot_kinds(24)
    np.testing.assert_array_equal(example["text_loss_mask"], kinds == Slot.TEXT_OUT)
    self.assertTrue(np.all(example["text_targets"][kinds != Slot.TEXT_OUT] == text.PAD))
    decoded = text.decode(example["text_targets"][example["text_loss_mask"]], skip_special=True)
    self.assertEqual(decoded, f"{ep.truth['count']}.")
    self.assertTrue(example["flow_loss_mask"].any())
    self.assertTrue(np.all(kinds[example["flow_loss_mask"]] == Slot.AUDIO_OUT))

  def test_same_index_same_bytes_and_splits_differ(self):
    cache = speech_cache.SpeechCache()
    build = lambda split, index: pipeline.to_example(pipeline.build_episode(
        "count_a", index, split=split, seed=0, n_ticks=24, layout=LAYOUT, cache=cache))
    _assert_batches_equal(self, [build("train", 3)], [build("train", 3)])
    train_voices = {pipeline.build_episode("count_a", i, split="train", seed=0, n_ticks=24,
                                           layout=LAYOUT, cache=cache).script.lines[0].voice.name
                    for i in range(8)}
    heldout_voices = {pipeline.build_episode("count_a", i, split="heldout", seed=0, n_ticks=24,
                                             layout=LAYOUT, cache=cache).script.lines[0].voice.name
                      for i in range(8)}
    self.assertEmpty(train_voices & heldout_voices)


class DatasetTest(absltest.TestCase):

  def test_deterministic_batches(self):
    first = _take(iter(pipeline.make_dataset(_spec(), LAYOUT)), 3)
    second = _take(iter(pipeline.make_dataset(_spec(), LAYOUT)), 3)
    _assert_batches_equal(self, first, second)
    self.assertEqual(first[0]["tokens"].shape, (3, 24 * LAYOUT.tick_len))

  def test_epochs_are_reshuffled_and_cover_every_episode(self):
    spec = _spec(batch_size=1)
    iterator = iter(pipeline.make_dataset(spec, LAYOUT, num_epochs=2))
    keys = [b["user_audio"].tobytes() for b in _take(iterator, 12)]
    with self.assertRaises(StopIteration):
      next(iterator)
    self.assertEqual(set(keys[:6]), set(keys[6:]))  # Each epoch holds the same episodes,
    self.assertNotEqual(keys[:6], keys[6:])  # in a new order.
    self.assertLen(set(keys), 6)

  def test_process_shards_are_disjoint_and_complete(self):
    spec = _spec(batch_size=1)
    whole = [b["user_audio"].tobytes() for b in
             _take(iter(pipeline.make_dataset(spec, LAYOUT, num_epochs=1)), 6)]
    shards = [[b["user_audio"].tobytes() for b in
               _take(iter(pipeline.make_dataset(spec, LAYOUT, num_epochs=1, process_index=p,
                                                process_count=2)), 3)] for p in range(2)]
    self.assertEqual(shards[0], whole[0::2])
    self.assertEqual(shards[1], whole[1::2])

  def test_mixing_weights(self):
    spec = _spec(families={"count_a": 1.0, "count_b": 3.0}, batch_size=1, episodes_per_epoch=20)
    iterator = iter(pipeline.make_dataset(spec, LAYOUT, num_epochs=1))
    cache = speech_cache.SpeechCache()
    b_examples = {pipeline.to_example(pipeline.build_episode(
        "count_b", i, split="train", seed=0, n_ticks=24, layout=LAYOUT,
        cache=cache))["user_audio"].tobytes() for i in range(30)}
    from_b = sum(next(iterator)["user_audio"][0].tobytes() in b_examples for _ in range(20))
    self.assertEqual(from_b, 15)  # A fixed 1:3 interleave.

  def test_iterator_state_resumes_exactly(self):
    iterator = iter(pipeline.make_dataset(_spec(), LAYOUT))
    _take(iterator, 2)
    state = iterator.get_state()
    expected = _take(iterator, 2)
    resumed = iter(pipeline.make_dataset(_spec(), LAYOUT))
    resumed.set_state(state)
    _assert_batches_equal(self, _take(resumed, 2), expected)

  def test_iterator_state_through_orbax(self):
    directory = self.create_tempdir().full_path
    iterator = iter(pipeline.make_dataset(_spec(), LAYOUT))
    _take(iterator, 1)
    with ocp.CheckpointManager(directory) as manager:
      manager.save(1, args=ocp.args.Composite(data_iter=grain.checkpoint.CheckpointSave(iterator)))
      manager.wait_until_finished()
    expected = _take(iterator, 2)
    fresh = iter(pipeline.make_dataset(_spec(), LAYOUT))
    with ocp.CheckpointManager(directory) as manager:
      manager.restore(1, args=ocp.args.Composite(
          data_iter=grain.checkpoint.CheckpointRestore(fresh)))
    _assert_batches_equal(self, _take(fresh, 2), expected)


class BadConfigTest(absltest.TestCase):

  def test_bad_specs(self):
    with self.assertRaisesRegex(ValueError, "unknown scenario family 'nope'.*count_a"):
      _spec(families={"nope": 1.0})
    with self.assertRaisesRegex(ValueError, "must sum to a positive number"):
      _spec(families={"count_a": 0.0})
    with self.assertRaisesRegex(ValueError, "weights must be >= 0"):
      _spec(families={"count_a": -1.0, "count_b": 2.0})
    with self.assertRaisesRegex(ValueError, "families is empty"):
      _spec(families={})
    with self.assertRaisesRegex(ValueError, "batch_size must be >= 1"):
      _spec(batch_size=0)
    with self.assertRaisesRegex(ValueError, "unknown split"):
      pipeline.make_dataset(_spec(), LAYOUT, split="test")
    with self.assertRaisesRegex(ValueError, "process_index 2"):
      pipeline.make_dataset(_spec(), LAYOUT, process_index=2, process_count=2)

  def test_too_short_episode_is_a_clear_error(self):
    iterator = iter(pipeline.make_dataset(_spec(n_ticks=10), LAYOUT))
    with self.assertRaisesRegex(ValueError, "at least 20 ticks"):
      next(iterator)


if __name__ == "__main__":
  absltest.main()
