"""Camera frames → 40×40 patches, the video tokens of the stream.

A frame is uint8 RGB `[H, W, 3]`. Patches are taken in row-major order (left
to right, then top to bottom), so patch i covers rows
`(i // n_cols) * 40 ...` and columns `(i % n_cols) * 40 ...`. Frames whose
sides are not multiples of the patch size are rejected, unless the caller asks
for `pad=True`, which adds black (zero) pixels at the bottom and right edge.
"""

import numpy as np

PATCH_SIZE = 40


def check_frame(frame: np.ndarray) -> None:
  """Raises ValueError unless `frame` is a uint8 `[H, W, 3]` image."""
  if not isinstance(frame, np.ndarray):
    raise ValueError(f"a video frame must be a numpy array, got {type(frame).__name__}")
  if frame.ndim != 3 or frame.shape[-1] != 3:
    raise ValueError(f"a video frame must have shape [H, W, 3], got {frame.shape}")
  if frame.dtype != np.uint8:
    raise ValueError(f"a video frame must be uint8 RGB, got dtype {frame.dtype}")


def patch_grid(height: int, width: int, patch: int = PATCH_SIZE) -> tuple[int, int]:
  """(rows, cols) of patches for a frame size; sides must be multiples of `patch`."""
  if height <= 0 or width <= 0 or height % patch or width % patch:
    raise ValueError(
        f"frame size {height}x{width} does not tile into {patch}x{patch} patches; "
        f"expected both sides to be positive multiples of {patch} "
        f"(or call patchify(..., pad=True))")
  return height // patch, width // patch


def patchify(frame: np.ndarray, *, patch: int = PATCH_SIZE, pad: bool = False) -> np.ndarray:
  """uint8 `[H, W, 3]` → uint8 `[n_patches, patch, patch, 3]`, row-major.

  With pad=True, the frame is first padded with zeros at the bottom/right to
  the next multiple of `patch`; otherwise a non-tiling size is a ValueError.
  """
  check_frame(frame)
  height, width, _ = frame.shape
  if pad:
    frame = np.pad(frame, ((0, -height % patch), (0, -width % patch), (0, 0)))
    height, width, _ = frame.shape
  rows, cols = patch_grid(height, width, patch)
  grid = frame.reshape(rows, patch, cols, patch, 3).transpose(0, 2, 1, 3, 4)
  return np.ascontiguousarray(grid.reshape(rows * cols, patch, patch, 3))


def unpatchify(patches: np.ndarray, rows: int, cols: int) -> np.ndarray:
  """Inverse of `patchify` (without padding): `[rows*cols, p, p, 3]` → `[rows*p, cols*p, 3]`."""
  if patches.ndim != 4 or patches.shape[0] != rows * cols or patches.shape[1] != patches.shape[2]:
    raise ValueError(f"expected patches [{rows * cols}, p, p, 3], got {patches.shape}")
  patch = patches.shape[1]
  grid = patches.reshape(rows, cols, patch, patch, 3).transpose(0, 2, 1, 3, 4)
  return grid.reshape(rows * patch, cols * patch, 3)
