"""Procedurally rendered scenes: ground truth measured back from the frames."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import dataclasses
import math
import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
from PIL import Image
from scipy import ndimage

from data_pipelines import scenes

TICK_MS = 200


def _mask(frames: np.ndarray, colour: str, tol: float = 60.0) -> np.ndarray:
  """bool `[..., H, W]`: pixels within `tol` (RGB distance) of a palette colour."""
  diff = frames.astype(np.float64) - np.asarray(scenes.COLOURS[colour], np.float64)
  return np.linalg.norm(diff, axis=-1) < tol


def _times(n_ticks: int) -> np.ndarray:
  return np.array([scenes.frame_time_s(i, TICK_MS) for i in range(n_ticks)])


def _count_cycles(signal: np.ndarray, low: float = 0.4, high: float = 0.6) -> int:
  """Excursions of a [0, 1]-normalized signal: rises above `high` after being below `low`."""
  count, up = 0, False
  for value in signal:
    if not up and value > high:
      count, up = count + 1, True
    elif up and value < low:
      up = False
  return count


def _motion_signal(scene: scenes.RepCountScene, frames: np.ndarray) -> np.ndarray:
  """The subject's displacement measured from its colour mask, 0 at rest and 1 at the first peak."""
  side = min(frames.shape[1:3])
  peak = scene.frame(scene.start_s + scene.rep_durations_s[0] / 2, *frames.shape[1:3])
  masks = _mask(np.concatenate([frames, peak[None]]), scene.colour)  # [n + 1, H, W]
  if scene.motion in ("vertical", "horizontal"):
    axis = 1 if scene.motion == "vertical" else 2
    coords = np.arange(masks.shape[axis]) + 0.5
    profile = masks.sum(axis=3 - axis)  # [n + 1, H or W]
    raw = (profile * coords).sum(-1) / profile.sum(-1) / side
  elif scene.motion == "scale":
    raw = np.sqrt(masks.sum((1, 2))) / side
  else:
    raw = (masks != masks[0]).sum((1, 2)) / side**2
  return (raw[:-1] - raw[0]) / (raw[-1] - raw[0])


class TicksTest(absltest.TestCase):

  def test_frame_times_are_tick_ends(self):
    self.assertEqual(scenes.frame_time_s(0, 200), 0.2)
    self.assertEqual(scenes.frame_time_s(4, 40), 0.2)
    self.assertEqual(scenes.tick_of(0.0, 200), 0)
    self.assertEqual(scenes.tick_of(0.2, 200), 0)
    self.assertEqual(scenes.tick_of(0.2000001, 200), 1)
    self.assertEqual(scenes.tick_of(0.7 * 3, 200), 10)  # 2.0999999999999996 s.
    for tick_ms in (40, 120, 200, 333):
      for i in range(200):
        t = scenes.frame_time_s(i, tick_ms)
        self.assertEqual(scenes.tick_of(t, tick_ms), i)
        self.assertEqual(scenes.tick_of(math.nextafter(t, math.inf), tick_ms), i + 1)
    self.assertEqual(scenes.episode_ticks(6.0, 200), 30)
    self.assertEqual(scenes.episode_ticks(6.1, 200), 31)

  def test_bad_ticks(self):
    for call, message in [(lambda: scenes.tick_of(-0.1, 200), "t_s must be"),
                          (lambda: scenes.tick_of(1.0, 0), "tick_ms must be a positive integer"),
                          (lambda: scenes.frame_time_s(0, 0.5), "tick_ms must be"),
                          (lambda: scenes.frame_time_s(-1, 200), "tick must be >= 0")]:
      with self.assertRaisesRegex(ValueError, message):
        call()


class RenderTest(parameterized.TestCase):

  @parameterized.product(cls=[scenes.RepCountScene, scenes.RevealScene, scenes.EventScene],
                         size=[(40, 40), (120, 120), (80, 120)])
  def test_frames_shape_and_time_convention(self, cls, size):
    scene = cls.sample(np.random.default_rng(3))
    frames = scenes.render_frames(scene, TICK_MS, *size)
    n_ticks = scenes.episode_ticks(scene.duration_s, TICK_MS)
    self.assertEqual(frames.shape, (n_ticks, *size, 3))
    self.assertEqual(frames.dtype, np.uint8)
    self.assertTrue(any(not np.array_equal(frame, frames[0]) for frame in frames))
    for i in (0, 7, n_ticks - 1):
      np.testing.assert_array_equal(
          frames[i], scene.frame(scenes.frame_time_s(i, TICK_MS), *size))
    self.assertEqual(scenes.render_frames(scene, TICK_MS, *size, n_ticks=3).shape, (3, *size, 3))

  @parameterized.parameters(scenes.RepCountScene, scenes.RevealScene, scenes.EventScene)
  def test_deterministic(self, cls):
    first = cls.sample(np.random.default_rng(11))
    again = cls.sample(np.random.default_rng(11))
    self.assertEqual(first, again)
    np.testing.assert_array_equal(scenes.render_frames(first, TICK_MS, 40, 40),
                                  scenes.render_frames(again, TICK_MS, 40, 40))
    rebuilt = dataclasses.replace(first)
    np.testing.assert_array_equal(rebuilt.frame(1.3, 80, 80), first.frame(1.3, 80, 80))
    self.assertNotEqual(cls.sample(np.random.default_rng(12)), first)

  @parameterized.product(shape=scenes.SHAPES, size=[(120, 120), (80, 160)])
  def test_equal_area_shapes(self, shape, size):
    scene = scenes.RepCountScene(
        shape=shape, colour="white", size=0.1, x=0.5, y=0.5, motion="scale", amplitude=1.5,
        start_s=1.0, rep_durations_s=(1.0,), duration_s=3.0, angle_deg=17.0,
        backdrop=scenes.Backdrop(grey=40, texture=0))
    frame = scene.frame(0.0, *size).astype(np.float64)
    coverage = (frame - 40) / (240 - 40)  # [H, W, 3], the same in every channel.
    side = min(size)
    self.assertAlmostEqual(coverage.sum() / 3 / (math.pi * (0.1 * side)**2), 1.0, delta=0.02)
    rows, cols = np.nonzero(coverage[..., 0] > 0.5)
    self.assertAlmostEqual(rows.mean() + 0.5, size[0] / 2, delta=1.0)
    self.assertAlmostEqual(cols.mean() + 0.5, size[1] / 2, delta=1.0)

  def test_bad_frame_requests(self):
    scene = scenes.RevealScene.sample(np.random.default_rng(0))
    with self.assertRaisesRegex(ValueError, "frame height must be a positive integer"):
      scene.frame(1.0, 0, 40)
    with self.assertRaisesRegex(ValueError, "frame width must be a positive integer"):
      scenes.render_frames(scene, TICK_MS, 40, -40)
    with self.assertRaisesRegex(ValueError, "n_ticks must be a positive integer"):
      scenes.render_frames(scene, TICK_MS, 40, 40, n_ticks=0)
    with self.assertRaisesRegex(ValueError, "tick_ms must be a positive integer"):
      scenes.render_frames(scene, -200, 40, 40)
    with self.assertRaisesRegex(ValueError, "0 <= grey"):
      scenes.Backdrop(grey=10, texture=20)

  def test_contact_sheet(self):
    frames = scenes.render_frames(scenes.EventScene.sample(np.random.default_rng(0)),
                                  TICK_MS, 40, 40, n_ticks=12)
    path = os.path.join(self.create_tempdir().full_path, "sheet.png")
    scenes.contact_sheet(frames, path, cols=5, labels=[str(i) for i in range(12)])
    with Image.open(path) as image:
      # 40 px frames are enlarged 3x; 2 px gaps; a 14 px label strip per row.
      self.assertEqual(image.size, (5 * 122 + 2, 3 * (120 + 14 + 2) + 2))
    with self.assertRaisesRegex(ValueError, "uint8"):
      scenes.contact_sheet(frames.astype(np.float32), path)


class RepCountTest(parameterized.TestCase):

  @parameterized.product(motion=scenes.MOTIONS, side=[40, 120])
  def test_counts_measured_from_frames(self, motion, side):
    scene = scenes.RepCountScene.sample(np.random.default_rng(side + len(motion)), n_reps=5,
                                        motion=motion, distractor=True)
    self.assertEqual(scene.n_reps, 5)
    self.assertIsNotNone(scene.distractor)
    frames = scenes.render_frames(scene, TICK_MS, side, side)
    signal = _motion_signal(scene, frames)
    self.assertEqual(_count_cycles(signal), 5)

    # The measured motion follows the ground-truth profile.
    truth = np.array([scene.excursion(t) for t in _times(len(frames))])  # [n_ticks]
    self.assertGreater(np.corrcoef(signal, truth)[0, 1], 0.9 if motion == "rotate" else 0.98)

    # Completion ticks: increasing, inside the episode, one per measured cycle;
    # each is within a tick of the measured minimum between peaks, and the
    # subject is exactly at rest from the last one on and before the first rep.
    ticks = scene.completion_ticks(TICK_MS)
    self.assertLen(ticks, 5)
    self.assertTrue(all(a < b for a, b in zip(ticks, ticks[1:])))
    self.assertLess(ticks[-1], len(frames))
    self.assertGreater(ticks[0], scenes.tick_of(scene.start_s, TICK_MS))
    times = _times(len(frames))
    ends = scene.completion_times_s()
    peaks = [int(np.argmax(np.where((times > begin) & (times < end), signal, -np.inf)))
             for begin, end in zip((scene.start_s,) + ends[:-1], ends)]
    for k in range(4):
      measured = peaks[k] + int(np.argmin(signal[peaks[k]:peaks[k + 1]]))
      self.assertLessEqual(abs(measured - ticks[k]), 1)
    masks = _mask(frames, scene.colour)
    first_move = scenes.tick_of(scene.start_s, TICK_MS)
    for i in [*range(first_move), *range(ticks[-1], len(frames))]:
      np.testing.assert_array_equal(masks[i], masks[0], err_msg=f"tick {i} is not at rest")

  def test_periodic_and_still_at_rest(self):
    scene = scenes.RepCountScene(
        shape="triangle", colour="yellow", size=0.1, x=0.5, y=0.3, motion="vertical",
        amplitude=0.3, start_s=0.5, rep_durations_s=(1.2,) * 4, duration_s=6.4, angle_deg=10.0,
        backdrop=scenes.Backdrop(grey=30, texture=10, seed=4))
    self.assertEqual(scene.completion_times_s(), (1.7, 2.9, 4.1, 5.3))
    self.assertEqual(scene.completion_ticks(TICK_MS), (8, 14, 20, 26))
    frames = scenes.render_frames(scene, TICK_MS, 40, 40)
    y = _motion_signal(scene, frames)
    np.testing.assert_allclose(y[8:20], y[14:26], atol=0.01)  # Period: 6 ticks.
    for i in [0, 1, *range(26, len(frames))]:  # Frames 0-1 are before 0.5 s.
      np.testing.assert_array_equal(frames[i], frames[0])
    self.assertGreater(np.abs(frames[5].astype(int) - frames[0]).max(), 100)

  def test_sample_fits_requested_duration(self):
    for seed in range(20):
      scene = scenes.RepCountScene.sample(np.random.default_rng(seed), duration_s=8.0)
      self.assertEqual(scene.duration_s, 8.0)
      self.assertLessEqual(scene.completion_times_s()[-1], 8.0 - 0.6)
      self.assertGreaterEqual(min(scene.rep_durations_s), 0.8)
      self.assertBetween(scene.n_reps, 1, 8)

  def test_bad_inputs(self):
    base = dict(shape="square", colour="red", size=0.1, x=0.5, y=0.5, motion="vertical",
                amplitude=0.2, start_s=1.0, rep_durations_s=(1.0, 1.0), duration_s=4.0)
    scenes.RepCountScene(**base)
    for change, message in [
        (dict(rep_durations_s=(1.0, -1.0)), "every repetition duration must be a positive"),
        (dict(rep_durations_s=()), "non-empty tuple"),
        (dict(duration_s=2.5), "completes at 3.000 s, after duration_s=2.5"),
        (dict(start_s=-1.0), "start_s must be >= 0"),
        (dict(size=0.0), "size must be a positive"),
        (dict(shape="star"), "shape must be one of"),
        (dict(motion="jump"), "motion must be one of"),
        (dict(amplitude=0.0), "amplitude must be finite and non-zero"),
        (dict(amplitude=0.5), "must stay inside the frame"),
        (dict(motion="scale", amplitude=-2.0), "size factor > 0"),
        (dict(motion="rotate", amplitude=50.0), "at most 45"),
        (dict(motion="rotate", amplitude=20.0, shape="circle"), "square or triangle"),
        (dict(distractor=scenes.Drifter("circle", "red", 0.05, 0.2, 0.2)), "colour must differ"),
    ]:
      with self.subTest(change=change), self.assertRaisesRegex(ValueError, message):
        scenes.RepCountScene(**{**base, **change})
    rng = np.random.default_rng(0)
    with self.assertRaisesRegex(ValueError, "n_reps must be a positive integer"):
      scenes.RepCountScene.sample(rng, n_reps=0)
    with self.assertRaisesRegex(ValueError, "too short for 8 repetitions"):
      scenes.RepCountScene.sample(rng, n_reps=8, duration_s=5.0)
    with self.assertRaisesRegex(ValueError, "duration_s must be a positive"):
      scenes.RepCountScene.sample(rng, duration_s=-1.0)


class RevealTest(parameterized.TestCase):

  @parameterized.product(kind=scenes.REVEAL_KINDS, mechanism=scenes.MECHANISMS, side=[40, 120])
  def test_answer_hidden_then_visible(self, kind, mechanism, side):
    scene = scenes.RevealScene.sample(np.random.default_rng(side), kind=kind,
                                      mechanism=mechanism, n_distractors=2)
    frames = scenes.render_frames(scene, TICK_MS, side, side)
    times = _times(len(frames))
    masks = _mask(frames, scene.colour)
    before = times <= scene.reveal_start_s
    after = times >= scene.reveal_s
    self.assertGreater(before.sum(), 3)
    self.assertGreater(after.sum(), 3)
    self.assertEqual(masks[before].sum(), 0)
    self.assertEqual(scene.reveal_tick(TICK_MS), int(np.argmax(after)))
    for mask in masks[after]:
      self.assertEqual(ndimage.label(mask)[1], len(scene.positions))
    if kind == "shape":  # Legible: any other shape in its place would look clearly different.
      for other in set(scenes.SHAPES) - {scene.shape}:
        alt = _mask(dataclasses.replace(scene, shape=other).frame(scene.reveal_s, side, side),
                    scene.colour)
        self.assertLess((alt & masks[-1]).sum() / (alt | masks[-1]).sum(), 0.9, other)
    answers = {"colour": scene.colour, "shape": scene.shape,
               "count": scenes.NUMBER_WORDS[len(scene.positions)]}
    self.assertEqual(scene.answer, answers[kind])

  def test_question_and_answer(self):
    scene = scenes.RevealScene(
        kind="count", mechanism="cover", shape="square", colour="red", size=0.06,
        positions=((0.2, 0.3), (0.4, 0.6), (0.2, 0.7)), area=(0.05, 0.1, 0.55, 0.9),
        reveal_start_s=2.0, reveal_s=2.5, duration_s=5.0, slide="left",
        distractors=(scenes.Drifter("square", "blue", 0.06, 0.8, 0.5, 0.05, 0.1),))
    self.assertEqual(scene.answer, "three")
    self.assertEqual(scene.question, "How many red squares are under the grey box?")
    self.assertEqual(scene.question_values,
                     {"colour": "red", "shape": "square", "where": "under the grey box"})
    self.assertEqual(scene.reveal_tick(TICK_MS), 12)
    colour = dataclasses.replace(scene, kind="colour", mechanism="fade", positions=((0.3, 0.5),))
    self.assertEqual((colour.question, colour.answer),
                     ("What colour is the square that will appear?", "red"))
    shape = dataclasses.replace(colour, kind="shape")
    self.assertEqual((shape.question, shape.answer),
                     ("What shape is the red object that will appear?", "square"))

  def test_bad_inputs(self):
    base = dict(kind="colour", mechanism="cover", shape="circle", colour="red", size=0.1,
                positions=((0.3, 0.5),), area=(0.05, 0.1, 0.55, 0.9), reveal_start_s=2.0,
                reveal_s=2.5, duration_s=5.0)
    scenes.RevealScene(**base)
    for change, message in [
        (dict(reveal_s=1.5), "must be before reveal_s"),
        (dict(reveal_s=6.0), r"reveal_s must be a time in \[0, duration_s=5.0\]"),
        (dict(kind="size"), "kind must be one of"),
        (dict(positions=((0.3, 0.5), (0.3, 0.8))), "needs 1 to 1 object positions"),
        (dict(kind="count", positions=((0.3, 0.5), (0.35, 0.5))), "overlap"),
        (dict(positions=((0.1, 0.5),)), "reaches outside area"),
        (dict(area=(0.5, 0.1, 0.2, 0.9)), "x0 < x1"),
        (dict(distractors=(scenes.Drifter("circle", "red", 0.05, 0.8, 0.5),)), "answer colour"),
        (dict(distractors=(scenes.Drifter("circle", "blue", 0.05, 0.6, 0.5),)), "reaches into"),
    ]:
      with self.subTest(change=change), self.assertRaisesRegex(ValueError, message):
        scenes.RevealScene(**{**base, **change})
    with self.assertRaisesRegex(ValueError, "drifter amplitudes must be >= 0"):
      scenes.Drifter("circle", "blue", 0.05, 0.8, 0.5, amp_x=-0.1)
    with self.assertRaisesRegex(ValueError, "duration_s must be >= 3.5"):
      scenes.RevealScene.sample(np.random.default_rng(0), duration_s=2.0)


class EventTest(parameterized.TestCase):

  @parameterized.product(action=scenes.ACTIONS, side=[40, 120])
  def test_change_only_inside_event(self, action, side):
    scene = scenes.EventScene.sample(np.random.default_rng(side + 1), action=action,
                                     n_distractors=2)
    self.assertLen(scene.distractors, 2)
    self.assertEqual(scene.subject.action, action)
    frames = scenes.render_frames(scene, TICK_MS, side, side)
    start, end = scene.ticks(TICK_MS)
    masks = _mask(frames, scene.subject.colour)
    changed = [i for i in range(1, len(frames)) if not np.array_equal(masks[i], masks[i - 1])]
    self.assertNotEmpty(changed)
    self.assertTrue(all(start <= i <= end for i in changed), (changed, start, end))
    visible = [i for i in range(len(frames)) if masks[i].any()]
    if action == "light":
      self.assertEqual(visible, list(range(start, end)))
    elif action == "cross":
      self.assertTrue(set(range(start + 2, end - 2)) <= set(visible) <= set(range(start, end)))
    else:
      self.assertEqual(len(visible), len(frames))
      self.assertGreater(len(changed), (end - start) // 2)

    # Distractors are idle during the event: every pixel that changes lies in
    # the subject's lane.
    _, top, _, bottom = scene.subject.reach()
    lane = np.zeros((side, side), bool)
    lane[max(0, int(top * side) - 1):int(bottom * side) + 2] = True
    for i in range(start + 1, end + 1):
      moved = np.any(frames[i] != frames[i - 1], axis=-1)
      self.assertFalse(np.any(moved & ~lane), f"tick {i}")
    self.assertTrue(all(d.end_s < scene.start_s or d.start_s > scene.end_s
                        for d in scene.distractors))
    subject = scene.subject
    self.assertTrue(scene.description.startswith(f"the {subject.colour} {subject.shape} "))

  def test_description_and_ticks(self):
    subject = scenes.Actor("square", "blue", 0.08, 0.5, 0.5, "cross", start_s=2.0, end_s=4.1)
    scene = scenes.EventScene(subject, duration_s=6.0, distractors=(
        scenes.Actor("circle", "yellow", 0.08, 0.3, 0.15, "light", 0.5, 1.5),))
    self.assertEqual(scene.description, "the blue square moves across")
    self.assertEqual((scene.start_s, scene.end_s), (2.0, 4.1))
    self.assertEqual(scene.ticks(TICK_MS), (9, 20))
    self.assertEqual(dataclasses.replace(subject, action="light").description,
                     "the blue square lights up")

  def test_bad_inputs(self):
    subject = scenes.Actor("square", "blue", 0.08, 0.5, 0.5, "spin", start_s=2.0, end_s=4.0)
    lamp = scenes.Actor("circle", "yellow", 0.08, 0.3, 0.15, "light", 0.5, 1.5)
    scenes.EventScene(subject, 6.0, (lamp,))
    for kwargs, message in [
        (dict(distractors=(dataclasses.replace(lamp, end_s=2.5),)), "overlaps the event"),
        (dict(distractors=(dataclasses.replace(lamp, colour="blue"),)), "distinct colours"),
        (dict(distractors=(dataclasses.replace(lamp, x=0.45, y=0.45),)), "may overlap"),
        (dict(duration_s=3.0), "ends at 4.0 s, after duration_s=3.0"),
    ]:
      with self.subTest(kwargs=kwargs), self.assertRaisesRegex(ValueError, message):
        scenes.EventScene(**{"subject": subject, "duration_s": 6.0, **kwargs})
    for change, message in [(dict(shape="circle"), "spin needs a square or triangle"),
                            (dict(end_s=1.0), "start_s < end_s"),
                            (dict(action="jump"), "action must be one of"),
                            (dict(x=0.98), "must stay inside the frame"),
                            (dict(direction=0), "direction must be 1 or -1")]:
      with self.subTest(change=change), self.assertRaisesRegex(ValueError, message):
        dataclasses.replace(subject, **change)
    with self.assertRaisesRegex(ValueError, "too short for 3 actions"):
      scenes.EventScene.sample(np.random.default_rng(0), n_distractors=2, duration_s=3.0)


if __name__ == "__main__":
  absltest.main()
