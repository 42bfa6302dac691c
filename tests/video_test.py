"""Camera frames → 40×40 patches."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from data_pipelines import video


def _frame(height: int, width: int, seed: int = 0) -> np.ndarray:
  return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


class PatchifyTest(parameterized.TestCase):

  @parameterized.parameters((40, 40), (80, 120), (160, 80))
  def test_row_major_patches(self, height, width):
    frame = _frame(height, width)
    patches = video.patchify(frame)
    rows, cols = height // 40, width // 40
    self.assertEqual(patches.shape, (rows * cols, 40, 40, 3))
    self.assertEqual(patches.dtype, np.uint8)
    for i in range(rows * cols):
      r, c = divmod(i, cols)
      np.testing.assert_array_equal(patches[i], frame[r * 40:(r + 1) * 40, c * 40:(c + 1) * 40])
    np.testing.assert_array_equal(video.unpatchify(patches, rows, cols), frame)

  def test_padding_is_opt_in_and_black(self):
    frame = _frame(50, 70)
    with self.assertRaisesRegex(ValueError, "50x70 does not tile into 40x40"):
      video.patchify(frame)
    patches = video.patchify(frame, pad=True)
    self.assertEqual(patches.shape, (4, 40, 40, 3))
    canvas = video.unpatchify(patches, 2, 2)
    np.testing.assert_array_equal(canvas[:50, :70], frame)
    self.assertEqual(canvas[50:].max(), 0)
    self.assertEqual(canvas[:, 70:].max(), 0)

  def test_bad_frames(self):
    with self.assertRaisesRegex(ValueError, r"shape \[H, W, 3\], got \(40, 40\)"):
      video.patchify(np.zeros((40, 40), np.uint8))
    with self.assertRaisesRegex(ValueError, r"shape \[H, W, 3\], got \(40, 40, 4\)"):
      video.patchify(np.zeros((40, 40, 4), np.uint8))
    with self.assertRaisesRegex(ValueError, "uint8 RGB, got dtype float32"):
      video.patchify(np.zeros((40, 40, 3), np.float32))
    with self.assertRaisesRegex(ValueError, "numpy array"):
      video.patchify([[0, 0, 0]])


if __name__ == "__main__":
  absltest.main()
