"""Procedurally rendered video scenes whose ground truth is known exactly.

Three scene families feed the synthetic interaction suite:

  * `RepCountScene` (RepCount-like): a shape repeats a motion (up/down,
    left/right, grow/shrink or rotate) a known number of times, resting
    before the first and after the last repetition. Ground truth: the instant
    each repetition completes.
  * `RevealScene` (ProactiveVideoQA-like): the answer to a question is hidden
    (under a grey box, or not yet there) and becomes visible at a known time.
  * `EventScene` (Charades-STA-like): one described event (a shape moves
    across, spins, or lights up) has a known start and end; distractor
    objects do similar things before or after it, never during it.

Frame-time convention (ticks of T = tick_ms / 1000 seconds):
  * Tick i covers the interval (i*T, (i+1)*T]. The model's video input for
    tick i is ONE frame, captured at the END of the tick:
    `frame_time_s(i, tick_ms) = (i + 1) * tick_ms / 1000`. `render_frames`
    samples exactly these times, so frame i shows everything that happened
    up to and including that instant, and nothing later.
  * An instant tau belongs to tick `tick_of(tau, tick_ms)`: the tick whose
    interval contains it (tick 0 also takes tau = 0), i.e. the first tick
    whose frame is captured at or after tau. Every ground-truth tick here uses this mapping, so a
    repetition's completion tick is the first tick whose frame shows the
    repetition completed, a reveal tick is the first whose frame shows the
    whole answer, and an event's end tick is the first whose frame shows the
    event over. A continuous motion that begins at tau shows no displacement
    in a frame captured exactly at tau; it does from the next frame on.

Geometry: positions (x, y) are normalized, x in [0, 1] across the width, y in
[0, 1] down the height (origin top-left). Lengths (sizes, displacements,
amplitudes) are in units of the frame's SHORTER side, so shapes keep their
proportions at any resolution. A shape's `size` is the radius of the circle
of equal area, so a circle, square and triangle of one size cover the same
number of pixels. Angles are degrees, clockwise on screen.

Rendering is pure numpy: each shape is painted back to front over a static
background with anti-aliased edges (pixel coverage = clip(0.5 - signed
distance in pixels, 0, 1)), in float64, rounded once to uint8. A frame is a
pure function of (scene, t, height, width): the same parameters give
bit-identical frames, and `sample(rng)` consumes the generator
deterministically. Any positive height and width work; the data suite uses
multiples of 40 (see data_pipelines.video). Shapes are legible from 40x40 up.

Colour masks stay unambiguous: palette colours are saturated or white and far
apart, backgrounds and the cover are neutral grey, and no blend of a palette
colour with the background comes near another palette colour.
"""

from collections.abc import Sequence
import dataclasses
import math
import numbers
from typing import NamedTuple

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 90, 235),
    "yellow": (240, 210, 40),
    "purple": (160, 60, 210),
    "cyan": (40, 210, 220),
    "white": (240, 240, 240),
}
SHAPES = ("circle", "square", "triangle")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six")
COVER_GREY = 128
# The largest rotation whose pose cannot be mistaken for a smaller rotation
# the other way (half the shape's rotational symmetry).
_MAX_TURN_DEG = {"square": 45.0, "triangle": 60.0}
# A shape's circumradius per unit of `size` (equal-area radius).
_CIRCUMRADIUS = {
    "circle": 1.0,
    "square": math.sqrt(math.pi / 2),
    "triangle": math.sqrt(4 * math.pi / (3 * math.sqrt(3))),
}


def _check(ok: bool, message: str) -> None:
  if not ok:
    raise ValueError(message)


def _check_choice(name: str, value, choices) -> None:
  _check(value in choices, f"{name} must be one of {tuple(choices)}, got {value!r}")


def _check_positive(name: str, value) -> None:
  _check(isinstance(value, numbers.Real) and math.isfinite(value) and value > 0,
         f"{name} must be a positive finite number, got {value!r}")


def _check_time(name: str, value: float, duration_s: float) -> None:
  _check(isinstance(value, numbers.Real) and 0 <= value <= duration_s,
         f"{name} must be a time in [0, duration_s={duration_s}] s, got {value!r}")


# ----------------------------------------------------------------------------
# Ticks.


def _check_tick_ms(tick_ms: int) -> None:
  _check(isinstance(tick_ms, (int, np.integer)) and tick_ms > 0,
         f"tick_ms must be a positive integer, got {tick_ms!r}")


def frame_time_s(tick: int, tick_ms: int) -> float:
  """When tick `tick`'s frame is captured: at the tick's end, (tick + 1) * tick_ms / 1000 s."""
  _check_tick_ms(tick_ms)
  _check(tick >= 0, f"tick must be >= 0, got {tick}")
  return (tick + 1) * tick_ms / 1000


def tick_of(t_s: float, tick_ms: int) -> int:
  """The tick containing instant t_s: the first tick whose frame time is >= t_s.

  Exactly consistent with `frame_time_s` (no rounding slack): for every
  tick i, `tick_of(frame_time_s(i, tick_ms), tick_ms) == i`.
  """
  _check_tick_ms(tick_ms)
  _check(math.isfinite(t_s) and t_s >= 0, f"t_s must be a finite time >= 0, got {t_s!r}")
  tick = max(0, math.ceil(t_s * 1000 / tick_ms) - 1)
  while frame_time_s(tick, tick_ms) < t_s:
    tick += 1
  while tick > 0 and frame_time_s(tick - 1, tick_ms) >= t_s:
    tick -= 1
  return tick


def episode_ticks(duration_s: float, tick_ms: int) -> int:
  """How many ticks it takes for the frames to reach `duration_s`: tick_of(duration_s) + 1."""
  return tick_of(duration_s, tick_ms) + 1


# ----------------------------------------------------------------------------
# Rasterization.


class _Sprite(NamedTuple):
  """One shape to paint: at pixel (x * W + dx * S, y * H + dy * S), S the shorter side."""
  shape: str
  rgb: tuple[float, float, float]
  x: float
  y: float
  size: float
  angle_deg: float = 0.0
  alpha: float = 1.0
  dx: float = 0.0
  dy: float = 0.0


def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
  """Pixel-centre coordinates, ys `[H, 1]` and xs `[1, W]`, in pixels."""
  return (np.arange(height, dtype=np.float64)[:, None] + 0.5,
          np.arange(width, dtype=np.float64)[None, :] + 0.5)


def _signed_distance(sprite: _Sprite, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
  """Signed distance in pixels from each pixel centre to the shape's edge, `[H, W]` (< 0 inside)."""
  height, width = ys.shape[0], xs.shape[1]
  side = min(height, width)
  cx = sprite.x * width + sprite.dx * side
  cy = sprite.y * height + sprite.dy * side
  radius = sprite.size * side
  dx, dy = xs - cx, ys - cy
  if sprite.shape == "circle":
    return np.hypot(dx, dy) - radius
  theta = math.radians(sprite.angle_deg)
  if sprite.shape == "square":
    half = radius * math.sqrt(math.pi) / 2
    u = math.cos(theta) * dx + math.sin(theta) * dy
    v = -math.sin(theta) * dx + math.cos(theta) * dy
    return np.maximum(np.abs(u), np.abs(v)) - half
  # Equilateral triangle, apex up at angle 0: the largest distance past its three edges.
  inradius = radius * _CIRCUMRADIUS["triangle"] / 2
  normals = [theta + math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)]
  return np.maximum.reduce([math.cos(a) * dx + math.sin(a) * dy for a in normals]) - inradius


def _paint(canvas: np.ndarray, coverage: np.ndarray, rgb) -> None:
  """Blends `rgb` over canvas `[H, W, 3]` in place with per-pixel coverage `[H, W]`."""
  canvas += (np.asarray(rgb, np.float64) - canvas) * coverage[..., None]


def _paint_sprite(canvas: np.ndarray, sprite: _Sprite, ys: np.ndarray, xs: np.ndarray) -> None:
  if sprite.alpha > 0:
    coverage = np.clip(0.5 - _signed_distance(sprite, ys, xs), 0.0, 1.0)
    _paint(canvas, coverage * sprite.alpha, sprite.rgb)


def _paint_box(canvas: np.ndarray, box: tuple[float, float, float, float], rgb,
               ys: np.ndarray, xs: np.ndarray) -> None:
  """Paints a normalized (x0, y0, x1, y1) box, opaque up to half a pixel OUTSIDE its edge.

  Anything whose geometric extent lies inside the box (anti-aliased edge
  included) is therefore completely hidden.
  """
  height, width = ys.shape[0], xs.shape[1]
  x0, y0, x1, y1 = box
  sd = np.maximum(np.abs(xs - (x0 + x1) / 2 * width) - (x1 - x0) / 2 * width,
                  np.abs(ys - (y0 + y1) / 2 * height) - (y1 - y0) / 2 * height)
  _paint(canvas, np.clip(1.5 - sd, 0.0, 1.0), rgb)


def _check_frame_size(height: int, width: int) -> None:
  for name, value in (("height", height), ("width", width)):
    _check(isinstance(value, (int, np.integer)) and value > 0,
           f"frame {name} must be a positive integer, got {value!r}")


def _to_uint8(canvas: np.ndarray) -> np.ndarray:
  return np.clip(np.round(canvas), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------
# Parts shared by the scenes.


@dataclasses.dataclass(frozen=True)
class Backdrop:
  """A static neutral-grey background: `grey` +- `texture` levels of smooth noise.

  The texture is a seeded 6x6 lattice of uniform noise, interpolated
  bilinearly over the frame, so it looks the same at every resolution and
  never changes over time.
  """
  grey: float = 40.0
  texture: float = 0.0
  seed: int = 0

  def __post_init__(self):
    _check(isinstance(self.grey, numbers.Real) and isinstance(self.texture, numbers.Real)
           and self.texture >= 0 and 0 <= self.grey - self.texture
           and self.grey + self.texture <= 255,
           f"backdrop needs texture >= 0 and 0 <= grey +- texture <= 255, got "
           f"grey={self.grey!r}, texture={self.texture!r}")

  @classmethod
  def sample(cls, rng: np.random.Generator) -> "Backdrop":
    """A dark grey (20-60) with texture 0-15: darker than every palette colour and the cover."""
    return cls(grey=float(rng.uniform(20, 60)), texture=float(rng.uniform(0, 15)),
               seed=int(rng.integers(2**31)))

  def render(self, height: int, width: int) -> np.ndarray:
    """float64 `[H, W, 3]`."""
    lattice = 6
    noise = np.random.default_rng(self.seed).uniform(-1, 1, (lattice, lattice))
    gy = (np.arange(height) + 0.5) / height * (lattice - 1)
    gx = (np.arange(width) + 0.5) / width * (lattice - 1)
    iy = np.minimum(gy.astype(int), lattice - 2)
    ix = np.minimum(gx.astype(int), lattice - 2)
    fy, fx = (gy - iy)[:, None], gx - ix
    rows = noise[iy] * (1 - fy) + noise[iy + 1] * fy  # [H, lattice]
    field = rows[:, ix] * (1 - fx) + rows[:, ix + 1] * fx  # [H, W]
    grey = self.grey + self.texture * field
    return np.repeat(grey[..., None], 3, axis=-1)


@dataclasses.dataclass(frozen=True)
class Drifter:
  """A distractor shape wandering smoothly and non-periodically around (x, y).

  Its offset from (x, y) is a sum of sinusoids at incommensurate frequencies
  (base `freq_hz`), bounded by |dx| <= amp_x and |dy| <= amp_y (shorter-side
  units); amplitudes of 0 keep it still.
  """
  shape: str
  colour: str
  size: float
  x: float
  y: float
  amp_x: float = 0.0
  amp_y: float = 0.0
  freq_hz: float = 0.1
  phase: float = 0.0

  def __post_init__(self):
    _check_choice("drifter shape", self.shape, SHAPES)
    _check_choice("drifter colour", self.colour, COLOURS)
    _check_positive("drifter size", self.size)
    _check_positive("drifter freq_hz", self.freq_hz)
    _check(self.amp_x >= 0 and self.amp_y >= 0,
           f"drifter amplitudes must be >= 0, got amp_x={self.amp_x}, amp_y={self.amp_y}")
    _check_inside("drifter", self.reach())

  def reach(self) -> tuple[float, float, float, float]:
    """A box (x0, y0, x1, y1) that contains the shape at all times (any frame aspect)."""
    r = self.size * _CIRCUMRADIUS[self.shape]
    return (self.x - self.amp_x - r, self.y - self.amp_y - r,
            self.x + self.amp_x + r, self.y + self.amp_y + r)

  def sprite(self, t_s: float) -> _Sprite:
    w = 2 * math.pi * self.freq_hz * t_s
    dx = self.amp_x * (math.sin(w + self.phase) + math.sin(math.sqrt(2) * w + 2 * self.phase)) / 2
    dy = self.amp_y * (math.cos(1.3 * w + self.phase)
                       + math.sin(math.sqrt(3) * w + 3 * self.phase)) / 2
    return _Sprite(self.shape, COLOURS[self.colour], self.x, self.y, self.size, dx=dx, dy=dy)


def _check_inside(what: str, box: tuple[float, float, float, float]) -> None:
  """Checks a reach box (lengths taken as if the frame were square: safe for any aspect)."""
  x0, y0, x1, y1 = box
  _check(0 <= x0 and 0 <= y0 and x1 <= 1 and y1 <= 1,
         f"{what} must stay inside the frame: it reaches x in [{x0:.3f}, {x1:.3f}], "
         f"y in [{y0:.3f}, {y1:.3f}], expected within [0, 1]")


def _inside(inner: tuple[float, ...], outer: tuple[float, ...]) -> bool:
  return (outer[0] <= inner[0] and outer[1] <= inner[1]
          and inner[2] <= outer[2] and inner[3] <= outer[3])


def _disjoint(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
  return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def _check_duration(duration_s: float) -> None:
  _check_positive("duration_s", duration_s)


def _distinct_colours(rng: np.random.Generator, n: int) -> list[str]:
  names = list(COLOURS)
  return [names[i] for i in rng.permutation(len(names))[:n]]


def _pick(rng: np.random.Generator, choices: Sequence[str]) -> str:
  return choices[int(rng.integers(len(choices)))]


# ----------------------------------------------------------------------------
# RepCount.

MOTIONS = ("vertical", "horizontal", "scale", "rotate")


@dataclasses.dataclass(frozen=True)
class RepCountScene:
  """A shape repeating one motion `n_reps` times, at rest before and after.

  Repetition k runs from `start_s + sum(rep_durations_s[:k])` for
  `rep_durations_s[k]` seconds, back to back. Within a repetition, at phase
  u in [0, 1], the shape is displaced from rest by `amplitude * e(u)` with
  e(u) = (1 - cos(2 pi u)) / 2: it leaves rest smoothly, peaks at u = 0.5 and
  is back at rest exactly when the repetition completes. What "displaced"
  means depends on `motion`:
    vertical / horizontal: moves by `amplitude` shorter-side units (down or
      right when positive, up or left when negative);
    scale: its size is multiplied by `amplitude` at the peak (> 1 grows,
      < 1 shrinks);
    rotate: turns by `amplitude` degrees (clockwise when positive);
      squares and triangles only, |amplitude| at most half their symmetry
      (45 and 60 degrees) so the peak is the pose furthest from rest.
  Between `start_s` and the last completion the shape is never at rest
  except at completions; outside that span frames are identical apart from
  the optional distractor, which wanders on its own and is painted BENEATH
  the subject. The subject stays inside the frame at all times.
  """
  shape: str
  colour: str
  size: float
  x: float
  y: float
  motion: str
  amplitude: float
  start_s: float
  rep_durations_s: tuple[float, ...]
  duration_s: float
  angle_deg: float = 0.0
  distractor: Drifter | None = None
  backdrop: Backdrop = Backdrop()

  def __post_init__(self):
    _check_choice("shape", self.shape, SHAPES)
    _check_choice("colour", self.colour, COLOURS)
    _check_choice("motion", self.motion, MOTIONS)
    _check_positive("size", self.size)
    _check_duration(self.duration_s)
    _check(isinstance(self.rep_durations_s, tuple) and len(self.rep_durations_s) >= 1,
           f"rep_durations_s must be a non-empty tuple (one duration per repetition), "
           f"got {self.rep_durations_s!r}")
    for d in self.rep_durations_s:
      _check_positive("every repetition duration", d)
    _check(self.start_s >= 0, f"start_s must be >= 0, got {self.start_s}")
    _check(self.completion_times_s()[-1] <= self.duration_s,
           f"the last repetition completes at {self.completion_times_s()[-1]:.3f} s, "
           f"after duration_s={self.duration_s}")
    _check(math.isfinite(self.amplitude) and self.amplitude != 0,
           f"amplitude must be finite and non-zero, got {self.amplitude}")
    if self.motion == "scale":
      _check(self.amplitude > 0, f"a scale amplitude is a size factor > 0, got {self.amplitude}")
    if self.motion == "rotate":
      _check(self.shape in _MAX_TURN_DEG,
             f"rotate needs a square or triangle (a turning circle looks still), got {self.shape}")
      _check(abs(self.amplitude) <= _MAX_TURN_DEG[self.shape],
             f"a {self.shape} may rotate by at most {_MAX_TURN_DEG[self.shape]} degrees, "
             f"got {self.amplitude}")
    if self.distractor is not None:
      _check(self.distractor.colour != self.colour,
             f"the distractor's colour must differ from the subject's ({self.colour})")
    _check_inside("the repeating shape", self.reach())

  @property
  def n_reps(self) -> int:
    return len(self.rep_durations_s)

  @property
  def period_s(self) -> float:
    """Mean repetition duration."""
    return sum(self.rep_durations_s) / self.n_reps

  def completion_times_s(self) -> tuple[float, ...]:
    """When each repetition completes (shape back at rest), increasing, in seconds."""
    return tuple(float(t) for t in self.start_s + np.cumsum(self.rep_durations_s))

  def completion_ticks(self, tick_ms: int) -> tuple[int, ...]:
    """Per repetition, the first tick whose frame shows it completed (`tick_of`)."""
    return tuple(tick_of(t, tick_ms) for t in self.completion_times_s())

  def excursion(self, t_s: float) -> float:
    """e in [0, 1]: how far along its motion the shape is at t_s (0 at rest, 1 at a peak)."""
    ends = self.completion_times_s()
    k = int(np.searchsorted(ends, t_s))  # First repetition ending at or after t_s.
    begin = ends[k - 1] if k > 0 else self.start_s
    if k == self.n_reps or t_s <= begin:
      return 0.0
    return (1 - math.cos(2 * math.pi * (t_s - begin) / self.rep_durations_s[k])) / 2

  def reach(self) -> tuple[float, float, float, float]:
    """A box (x0, y0, x1, y1) that contains the subject at all times (any frame aspect)."""
    r = self.size * _CIRCUMRADIUS[self.shape]
    if self.motion == "scale":
      r *= max(1.0, self.amplitude)
    shift_x = self.amplitude if self.motion == "horizontal" else 0.0
    shift_y = self.amplitude if self.motion == "vertical" else 0.0
    return (self.x + min(0.0, shift_x) - r, self.y + min(0.0, shift_y) - r,
            self.x + max(0.0, shift_x) + r, self.y + max(0.0, shift_y) + r)

  def _subject(self, t_s: float) -> _Sprite:
    e = self.excursion(t_s)
    sprite = _Sprite(self.shape, COLOURS[self.colour], self.x, self.y, self.size, self.angle_deg)
    if self.motion == "vertical":
      return sprite._replace(dy=self.amplitude * e)
    if self.motion == "horizontal":
      return sprite._replace(dx=self.amplitude * e)
    if self.motion == "scale":
      return sprite._replace(size=self.size * (1 + (self.amplitude - 1) * e))
    return sprite._replace(angle_deg=self.angle_deg + self.amplitude * e)

  def frame(self, t_s: float, height: int, width: int) -> np.ndarray:
    """The camera frame at t_s: uint8 `[height, width, 3]`."""
    _check_frame_size(height, width)
    canvas = self.backdrop.render(height, width)
    ys, xs = _pixel_grid(height, width)
    if self.distractor is not None:
      _paint_sprite(canvas, self.distractor.sprite(t_s), ys, xs)
    _paint_sprite(canvas, self._subject(t_s), ys, xs)
    return _to_uint8(canvas)

  @classmethod
  def sample(cls, rng: np.random.Generator, *, n_reps: int | None = None,
             motion: str | None = None, distractor: bool | None = None,
             duration_s: float | None = None, max_jitter: float = 0.1) -> "RepCountScene":
    """A random scene; unset arguments are drawn from `rng`.

    Period 0.8-2.4 s, each repetition's duration jittered by up to
    +-`max_jitter` of it but never below 0.8 s (at least 4 frames of 200 ms);
    0.4-2 s of rest before and 0.6-2 s after. n_reps defaults to 2-8. With
    `duration_s` the episode has exactly that length and the period is drawn
    so the repetitions fit (ValueError if they cannot). The distractor
    (default: 50%) wanders in the half of the frame the subject does not use.
    """
    _check(0 <= max_jitter < 0.5, f"max_jitter must be in [0, 0.5), got {max_jitter}")
    if duration_s is not None:
      _check_duration(duration_s)
    jitter = float(rng.uniform(0, max_jitter))
    shortest = 0.8 / (1 - jitter)  # Shortest mean period keeping every repetition >= 0.8 s.
    room = None if duration_s is None else (duration_s - 1.0) / (1 + jitter)
    if n_reps is None:
      most = 8 if room is None else min(8, int(room // shortest))
      _check(most >= 1, f"duration_s={duration_s} is too short for a single repetition")
      n_reps = int(rng.integers(min(2, most), most + 1))
    _check(isinstance(n_reps, (int, np.integer)) and n_reps >= 1,
           f"n_reps must be a positive integer, got {n_reps!r}")
    longest = 2.4 if room is None else min(2.4, room / n_reps)
    _check(longest >= shortest,
           f"duration_s={duration_s} is too short for {n_reps} repetitions of >= 0.8 s "
           f"plus 1 s of rest")
    period = float(rng.uniform(shortest, longest))
    durations = tuple(float(max(0.8, period * (1 + jitter * rng.uniform(-1, 1))))
                      for _ in range(n_reps))
    if duration_s is None:
      start_s = float(rng.uniform(0.4, 2.0))
      duration_s = start_s + sum(durations) + float(rng.uniform(0.6, 2.0))
    else:
      start_s = 0.4 + float(rng.uniform(0, min(1.6, duration_s - 1.0 - sum(durations))))

    if motion is None:
      motion = _pick(rng, MOTIONS)
    _check_choice("motion", motion, MOTIONS)
    shape = _pick(rng, SHAPES[1:] if motion == "rotate" else SHAPES)
    sign = 1 if rng.random() < 0.5 else -1
    if motion in ("vertical", "horizontal"):
      amplitude = sign * float(rng.uniform(0.12, 0.25))
    elif motion == "scale":
      amplitude = float(rng.uniform(1.4, 1.7) if sign > 0 else rng.uniform(0.45, 0.65))
    else:
      amplitude = sign * float(rng.uniform(0.5, 0.9)) * _MAX_TURN_DEG[shape]
    if distractor is None:
      distractor = bool(rng.random() < 0.5)

    # The subject gets the whole frame, or one half (a column, or a band for
    # horizontal motion) with the distractor in the other half.
    regions = [(0.0, 0.0, 1.0, 1.0)]
    if distractor:
      halves = ([(0.0, 0.0, 1.0, 0.5), (0.0, 0.5, 1.0, 1.0)] if motion == "horizontal"
                else [(0.0, 0.0, 0.5, 1.0), (0.5, 0.0, 1.0, 1.0)])
      regions = [halves[i] for i in rng.permutation(2)]
    x0, y0, x1, y1 = regions[0]
    margin = 0.03
    growth = max(1.0, amplitude) if motion == "scale" else 1.0
    along_x = abs(amplitude) if motion == "horizontal" else 0.0
    along_y = abs(amplitude) if motion == "vertical" else 0.0
    fit = min(x1 - x0 - along_x, y1 - y0 - along_y) / 2 - margin
    size = min(float(rng.uniform(0.08, 0.13)), fit / (_CIRCUMRADIUS[shape] * growth))
    r = size * _CIRCUMRADIUS[shape] * growth + margin
    # Rest position: the path [rest, rest + amplitude] must fit in the region.
    x = float(rng.uniform(x0 + r + max(0.0, -along_x * sign), x1 - r - max(0.0, along_x * sign)))
    y = float(rng.uniform(y0 + r + max(0.0, -along_y * sign), y1 - r - max(0.0, along_y * sign)))
    colour, other_colour = _distinct_colours(rng, 2)
    drifter = None
    if distractor:
      dx0, dy0, dx1, dy1 = regions[1]
      d_shape = _pick(rng, SHAPES)
      d_size = float(rng.uniform(0.06, 0.1))
      d_r = d_size * _CIRCUMRADIUS[d_shape] + margin
      amp_x = float(rng.uniform(0, (dx1 - dx0) / 2 - d_r))
      amp_y = float(rng.uniform(0, (dy1 - dy0) / 2 - d_r))
      drifter = Drifter(d_shape, other_colour, d_size, (dx0 + dx1) / 2, (dy0 + dy1) / 2,
                        amp_x, amp_y, float(rng.uniform(0.05, 0.2)),
                        float(rng.uniform(0, 2 * math.pi)))
    angle_deg = float(rng.uniform(0, 90)) if shape != "circle" else 0.0
    return cls(shape=shape, colour=colour, size=size, x=x, y=y, motion=motion,
               amplitude=amplitude, start_s=start_s, rep_durations_s=durations,
               duration_s=duration_s, angle_deg=angle_deg, distractor=drifter,
               backdrop=Backdrop.sample(rng))


# ----------------------------------------------------------------------------
# ProactiveVideoQA.

REVEAL_KINDS = ("colour", "count", "shape")
MECHANISMS = ("cover", "fade")
SLIDES = ("left", "right", "up", "down")
QUESTION_TEMPLATES: dict[str, str] = {
    "colour": "What colour is the {shape} {where}?",
    "count": "How many {colour} {shape}s are {where}?",
    "shape": "What shape is the {colour} object {where}?",
}
_WHERE = {"cover": "under the grey box", "fade": "that will appear"}
_WHERE_COUNT = {"cover": "under the grey box", "fade": "going to appear"}


@dataclasses.dataclass(frozen=True)
class RevealScene:
  """Objects that are hidden until `reveal_start_s` and fully visible from `reveal_s`.

  The hidden objects (`shape`, `colour`, `size`, one per entry of
  `positions`, unrotated) lie inside `area` = (x0, y0, x1, y1). With
  mechanism "cover" a grey box over exactly `area` hides them, then slides
  out of the frame (`slide`) at constant speed between `reveal_start_s` and
  `reveal_s`, when its edge leaves the frame; with "fade" the objects fade
  in over that interval. Guarantees: for t <= reveal_start_s no pixel of the
  hidden objects shows; for t >= reveal_s all of them show, unoccluded. The
  distractors wander outside `area`, are painted on top of the cover and
  never share the answer's colour.

  kind "colour" (one object): answer is its colour name; "shape" (one
  object): its shape name; "count" (1-6 objects, non-overlapping): the
  number as a word. `question` phrases it from QUESTION_TEMPLATES.
  """
  kind: str
  mechanism: str
  shape: str
  colour: str
  size: float
  positions: tuple[tuple[float, float], ...]
  area: tuple[float, float, float, float]
  reveal_start_s: float
  reveal_s: float
  duration_s: float
  slide: str = "right"
  distractors: tuple[Drifter, ...] = ()
  backdrop: Backdrop = Backdrop()

  def __post_init__(self):
    _check_choice("kind", self.kind, REVEAL_KINDS)
    _check_choice("mechanism", self.mechanism, MECHANISMS)
    _check_choice("shape", self.shape, SHAPES)
    _check_choice("colour", self.colour, COLOURS)
    _check_choice("slide", self.slide, SLIDES)
    _check_positive("size", self.size)
    _check_duration(self.duration_s)
    _check_time("reveal_start_s", self.reveal_start_s, self.duration_s)
    _check_time("reveal_s", self.reveal_s, self.duration_s)
    _check(self.reveal_start_s < self.reveal_s,
           f"reveal_start_s ({self.reveal_start_s}) must be before reveal_s ({self.reveal_s})")
    _check(len(self.area) == 4 and self.area[0] < self.area[2] and self.area[1] < self.area[3],
           f"area must be (x0, y0, x1, y1) with x0 < x1 and y0 < y1, got {self.area}")
    _check_inside("the hidden area", self.area)
    most = 1 if self.kind != "count" else len(NUMBER_WORDS) - 1
    _check(1 <= len(self.positions) <= most,
           f"kind {self.kind!r} needs 1 to {most} object positions, got {len(self.positions)}")
    r = self.size * _CIRCUMRADIUS[self.shape]
    for i, (x, y) in enumerate(self.positions):
      _check(_inside((x - r, y - r, x + r, y + r), self.area),
             f"hidden object {i} at ({x}, {y}) reaches outside area {self.area}")
      for x2, y2 in self.positions[:i]:
        _check(math.hypot(x - x2, y - y2) > 2 * r,
               f"hidden objects at ({x}, {y}) and ({x2}, {y2}) overlap")
    for d in self.distractors:
      _check(d.colour != self.colour, f"a distractor has the answer colour {self.colour}")
      _check(_disjoint(d.reach(), self.area), f"a distractor reaches into area {self.area}")

  @property
  def answer(self) -> str:
    if self.kind == "colour":
      return self.colour
    if self.kind == "shape":
      return self.shape
    return NUMBER_WORDS[len(self.positions)]

  @property
  def question_values(self) -> dict[str, str]:
    """The fields QUESTION_TEMPLATES[kind] is formatted with."""
    where = (_WHERE_COUNT if self.kind == "count" else _WHERE)[self.mechanism]
    return {"colour": self.colour, "shape": self.shape, "where": where}

  @property
  def question(self) -> str:
    return QUESTION_TEMPLATES[self.kind].format(**self.question_values)

  def reveal_tick(self, tick_ms: int) -> int:
    """The first tick whose frame shows the whole answer."""
    return tick_of(self.reveal_s, tick_ms)

  def _progress(self, t_s: float) -> float:
    return min(1.0, max(0.0, (t_s - self.reveal_start_s) / (self.reveal_s - self.reveal_start_s)))

  def _cover_box(self, t_s: float) -> tuple[float, float, float, float] | None:
    """The cover's box at t_s, or None once it has left the frame."""
    if t_s >= self.reveal_s:
      return None
    x0, y0, x1, y1 = self.area
    travel = {"left": (-x1, 0.0), "right": (1 - x0, 0.0), "up": (0.0, -y1), "down": (0.0, 1 - y0)}
    tx, ty = travel[self.slide]
    p = self._progress(t_s)
    return (x0 + p * tx, y0 + p * ty, x1 + p * tx, y1 + p * ty)

  def frame(self, t_s: float, height: int, width: int) -> np.ndarray:
    """The camera frame at t_s: uint8 `[height, width, 3]`."""
    _check_frame_size(height, width)
    canvas = self.backdrop.render(height, width)
    ys, xs = _pixel_grid(height, width)
    alpha = 1.0 if self.mechanism == "cover" else self._progress(t_s)
    for x, y in self.positions:
      _paint_sprite(canvas, _Sprite(self.shape, COLOURS[self.colour], x, y, self.size,
                                    alpha=alpha), ys, xs)
    box = self._cover_box(t_s) if self.mechanism == "cover" else None
    if box is not None:
      _paint_box(canvas, box, (COVER_GREY,) * 3, ys, xs)
    for d in self.distractors:
      _paint_sprite(canvas, d.sprite(t_s), ys, xs)
    return _to_uint8(canvas)

  @classmethod
  def sample(cls, rng: np.random.Generator, *, kind: str | None = None,
             mechanism: str | None = None, n_distractors: int | None = None,
             duration_s: float = 6.0) -> "RevealScene":
    """A random scene; unset arguments are drawn from `rng`.

    The hidden area is the left or right half of the frame; 0-2 distractors
    (default random) wander in the other half. The reveal starts at least
    1 s in, takes 0.4-1 s (cover) or 0.2-0.6 s (fade), and ends at least
    1.5 s before `duration_s` (ValueError if `duration_s` < 3.5).
    """
    _check_duration(duration_s)
    _check(duration_s >= 3.5, f"duration_s must be >= 3.5 s for a reveal, got {duration_s}")
    kind = _pick(rng, REVEAL_KINDS) if kind is None else kind
    mechanism = _pick(rng, MECHANISMS) if mechanism is None else mechanism
    _check_choice("kind", kind, REVEAL_KINDS)
    _check_choice("mechanism", mechanism, MECHANISMS)
    if n_distractors is None:
      n_distractors = int(rng.integers(0, 3))
    _check(n_distractors in (0, 1, 2), f"n_distractors must be 0, 1 or 2, got {n_distractors}")

    left = rng.random() < 0.5
    area = (0.04, 0.12, 0.52, 0.88) if left else (0.48, 0.12, 0.96, 0.88)
    shape = _pick(rng, SHAPES)
    cx, cy = (area[0] + area[2]) / 2, (area[1] + area[3]) / 2
    if kind == "count":
      # Up to 6 slots, 2 columns x 3 rows, each object jittered within its slot.
      size = float(rng.uniform(0.06, 0.07))
      slots = [(area[0] + (0.25 + 0.5 * c) * 0.48, area[1] + (1 + 2 * r) / 6 * 0.76)
               for r in range(3) for c in range(2)]
      n = int(rng.integers(1, 6))
      chosen = sorted(rng.permutation(len(slots))[:n])
      positions = tuple((slots[i][0] + float(rng.uniform(-0.01, 0.01)),
                         slots[i][1] + float(rng.uniform(-0.01, 0.01))) for i in chosen)
    else:
      size = float(rng.uniform(0.11, 0.14) if kind == "shape" else rng.uniform(0.09, 0.13))
      positions = ((cx + float(rng.uniform(-0.02, 0.02)), cy + float(rng.uniform(-0.05, 0.05))),)

    colour, *others = _distinct_colours(rng, 1 + n_distractors)
    distractors = []
    for i, d_colour in enumerate(others):
      d_shape = _pick(rng, SHAPES)
      d_size = float(rng.uniform(0.06, 0.08))
      d_r = d_size * _CIRCUMRADIUS[d_shape]
      # In the free half; with two, one per quarter (top and bottom).
      fx0 = (0.55 if left else 0.0) + d_r + 0.02
      fx1 = (1.0 if left else 0.45) - d_r - 0.02
      top, bottom = (0.0, 1.0) if n_distractors == 1 else (0.5 * i, 0.5 * i + 0.5)
      fy0, fy1 = top + d_r + 0.02, bottom - d_r - 0.02
      amp_x = float(rng.uniform(0, 0.3)) * (fx1 - fx0) / 2
      amp_y = float(rng.uniform(0, 0.3)) * (fy1 - fy0) / 2
      distractors.append(Drifter(
          d_shape, d_colour, d_size,
          float(rng.uniform(fx0 + amp_x, fx1 - amp_x)),
          float(rng.uniform(fy0 + amp_y, fy1 - amp_y)),
          amp_x, amp_y, float(rng.uniform(0.05, 0.2)), float(rng.uniform(0, 2 * math.pi))))

    reveal_len = float(rng.uniform(0.4, 1.0) if mechanism == "cover" else rng.uniform(0.2, 0.6))
    reveal_start = float(rng.uniform(1.0, duration_s - 1.5 - reveal_len))
    slide = "right"
    if mechanism == "cover":
      slide = _pick(rng, ("left", "up", "down") if left else ("right", "up", "down"))
    return cls(kind=kind, mechanism=mechanism, shape=shape, colour=colour, size=size,
               positions=positions, area=area, reveal_start_s=reveal_start,
               reveal_s=reveal_start + reveal_len, duration_s=duration_s, slide=slide,
               distractors=tuple(distractors), backdrop=Backdrop.sample(rng))


# ----------------------------------------------------------------------------
# Charades-like events.

ACTIONS = ("cross", "spin", "light")
_VERBS = {"cross": "moves across", "spin": "spins", "light": "lights up"}
_UNLIT = 0.3  # An unlit lamp's colour, as a fraction of its lit colour.


@dataclasses.dataclass(frozen=True)
class Actor:
  """An object that does one thing between start_s and end_s.

  action "cross": invisible outside [start_s, end_s]; during it, moves at
    constant speed along the row at height `y` (x is unused), from just off
    one edge (touching it at start_s) to just off the other (leaving at
    end_s); left to right when direction > 0.
  action "spin": still at (x, y) except during [start_s, end_s], when it
    turns at `spin_dps` degrees per second (clockwise when direction > 0);
    squares and triangles only.
  action "light": at (x, y) throughout, dimmed to 30% of its colour, lit
    (full colour) for start_s <= t < end_s.
  """
  shape: str
  colour: str
  size: float
  x: float
  y: float
  action: str
  start_s: float
  end_s: float
  angle_deg: float = 0.0
  direction: int = 1
  spin_dps: float = 180.0

  def __post_init__(self):
    _check_choice("actor shape", self.shape, SHAPES)
    _check_choice("actor colour", self.colour, COLOURS)
    _check_choice("action", self.action, ACTIONS)
    _check_positive("actor size", self.size)
    _check(0 <= self.start_s < self.end_s,
           f"an actor needs 0 <= start_s < end_s, got {self.start_s}, {self.end_s}")
    _check(self.direction in (-1, 1), f"direction must be 1 or -1, got {self.direction}")
    if self.action == "spin":
      _check(self.shape != "circle",
             "a spinning circle looks still; spin needs a square or triangle")
      _check_positive("spin_dps", self.spin_dps)
    _check_inside(f"the {self.colour} {self.shape}", self.reach())

  @property
  def description(self) -> str:
    """E.g. "the blue square moves across"."""
    return f"the {self.colour} {self.shape} {_VERBS[self.action]}"

  def reach(self) -> tuple[float, float, float, float]:
    """A box (x0, y0, x1, y1) that contains the shape's visible part at all times."""
    r = self.size * _CIRCUMRADIUS[self.shape]
    if self.action == "cross":
      return (0.0, self.y - r, 1.0, self.y + r)
    return (self.x - r, self.y - r, self.x + r, self.y + r)

  def sprite(self, t_s: float) -> _Sprite | None:
    rgb = COLOURS[self.colour]
    sprite = _Sprite(self.shape, rgb, self.x, self.y, self.size, self.angle_deg)
    if self.action == "light":
      lit = self.start_s <= t_s < self.end_s
      return sprite if lit else sprite._replace(rgb=tuple(_UNLIT * c for c in rgb))
    elapsed = min(max(t_s, self.start_s), self.end_s) - self.start_s
    if self.action == "spin":
      return sprite._replace(angle_deg=self.angle_deg + self.direction * self.spin_dps * elapsed)
    if not self.start_s <= t_s <= self.end_s:
      return None
    # Centre x from -r to 1 + r (r in shorter-side units), whatever the aspect.
    r = self.size * _CIRCUMRADIUS[self.shape]
    u = elapsed / (self.end_s - self.start_s)
    along = u if self.direction > 0 else 1 - u
    return sprite._replace(x=along, dx=(2 * along - 1) * r)


@dataclasses.dataclass(frozen=True)
class EventScene:
  """A described event (`subject`'s action) from start_s to end_s, among distractors.

  Guarantees: the actors' colours are distinct (so `description` names one
  object), their reaches never overlap (nothing is ever occluded), and every
  distractor's action lies strictly before start_s or after end_s, so within
  [start_s, end_s] only the subject changes, and outside it the subject is
  still (or absent, for "cross").
  """
  subject: Actor
  duration_s: float
  distractors: tuple[Actor, ...] = ()
  backdrop: Backdrop = Backdrop()

  def __post_init__(self):
    _check_duration(self.duration_s)
    actors = (self.subject,) + tuple(self.distractors)
    for a in actors:
      _check(a.end_s <= self.duration_s,
             f"the {a.colour} {a.shape}'s action ends at {a.end_s} s, "
             f"after duration_s={self.duration_s}")
    colours = [a.colour for a in actors]
    _check(len(set(colours)) == len(colours), f"actors need distinct colours, got {colours}")
    for i, a in enumerate(actors):
      for b in actors[:i]:
        _check(_disjoint(a.reach(), b.reach()),
               f"the {a.colour} {a.shape} and the {b.colour} {b.shape} may overlap")
    for d in self.distractors:
      _check(d.end_s < self.start_s or d.start_s > self.end_s,
             f"distractor action [{d.start_s}, {d.end_s}] s overlaps the event "
             f"[{self.start_s}, {self.end_s}] s")

  @property
  def start_s(self) -> float:
    return self.subject.start_s

  @property
  def end_s(self) -> float:
    return self.subject.end_s

  @property
  def description(self) -> str:
    return self.subject.description

  def ticks(self, tick_ms: int) -> tuple[int, int]:
    """(start tick, end tick) by `tick_of`: the ticks in which the event begins and ends."""
    return tick_of(self.start_s, tick_ms), tick_of(self.end_s, tick_ms)

  def frame(self, t_s: float, height: int, width: int) -> np.ndarray:
    """The camera frame at t_s: uint8 `[height, width, 3]`."""
    _check_frame_size(height, width)
    canvas = self.backdrop.render(height, width)
    ys, xs = _pixel_grid(height, width)
    for actor in self.distractors + (self.subject,):
      sprite = actor.sprite(t_s)
      if sprite is not None:
        _paint_sprite(canvas, sprite, ys, xs)
    return _to_uint8(canvas)

  @classmethod
  def sample(cls, rng: np.random.Generator, *, action: str | None = None,
             n_distractors: int | None = None, duration_s: float = 10.0) -> "EventScene":
    """A random scene; unset arguments are drawn from `rng`.

    Up to 3 actors, one per horizontal lane (top, middle, bottom third). The
    event lasts 1.5-3.5 s, each distractor's action 1-2.5 s; the actions run
    one after another in random order with at least 0.6 s between them,
    0.4 s before the first and 0.6 s after the last, all shortened alike if
    they would not fit in `duration_s` (ValueError if that leaves an action
    shorter than 0.6 s).
    """
    _check_duration(duration_s)
    if n_distractors is None:
      n_distractors = int(rng.integers(0, 3))
    _check(n_distractors in (0, 1, 2), f"n_distractors must be 0, 1 or 2, got {n_distractors}")
    actions = [_pick(rng, ACTIONS) if action is None else action]
    actions += [_pick(rng, ACTIONS) for _ in range(n_distractors)]
    _check_choice("action", actions[0], ACTIONS)
    lengths = [float(rng.uniform(1.5, 3.5))] + [float(rng.uniform(1.0, 2.5))
                                                 for _ in range(n_distractors)]
    order = [int(i) for i in rng.permutation(len(actions))]  # Time order of the actors.
    gaps_min = [0.4] + [0.6] * (len(actions) - 1) + [0.6]
    room = duration_s - sum(gaps_min)
    if sum(lengths) > room:  # Shorten every action alike to fit.
      lengths = [length * room / sum(lengths) for length in lengths]
    _check(min(lengths) >= 0.6,
           f"duration_s={duration_s} is too short for {len(actions)} actions of >= 0.6 s "
           f"with their gaps")
    slack = room - sum(lengths)
    gaps = [g + slack * float(w) for g, w in zip(gaps_min, rng.dirichlet(np.ones(len(gaps_min))))]
    times = [(0.0, 0.0)] * len(actions)
    t = 0.0
    for k, i in enumerate(order):
      t += gaps[k]
      times[i] = (t, t + lengths[i])
      t += lengths[i]

    lanes = rng.permutation(3)
    colours = _distinct_colours(rng, len(actions))
    actors = []
    for i, act in enumerate(actions):
      shape = _pick(rng, SHAPES[1:] if act == "spin" else SHAPES)
      size = float(rng.uniform(0.08, 0.1))
      r = size * _CIRCUMRADIUS[shape]
      actors.append(Actor(
          shape, colours[i], size, x=float(rng.uniform(r + 0.03, 1 - r - 0.03)),
          y=(1 + 2 * int(lanes[i])) / 6, action=act, start_s=times[i][0], end_s=times[i][1],
          angle_deg=float(rng.uniform(0, 90)) if shape != "circle" else 0.0,
          direction=1 if rng.random() < 0.5 else -1, spin_dps=float(rng.uniform(60, 180))))
    return cls(subject=actors[0], duration_s=duration_s, distractors=tuple(actors[1:]),
               backdrop=Backdrop.sample(rng))


# ----------------------------------------------------------------------------
# Episodes and viewing.

Scene = RepCountScene | RevealScene | EventScene


def render_frames(scene: Scene, tick_ms: int, height: int, width: int,
                  n_ticks: int | None = None) -> np.ndarray:
  """The camera frames of an episode: uint8 `[n_ticks, height, width, 3]`.

  Frame i is `scene.frame(frame_time_s(i, tick_ms), ...)`, captured at the
  END of tick i. n_ticks defaults to `episode_ticks(scene.duration_s,
  tick_ms)`, the fewest ticks whose frames reach the end of the scene.
  """
  _check_frame_size(height, width)
  if n_ticks is None:
    n_ticks = episode_ticks(scene.duration_s, tick_ms)
  _check(isinstance(n_ticks, (int, np.integer)) and n_ticks > 0,
         f"n_ticks must be a positive integer, got {n_ticks!r}")
  return np.stack([scene.frame(frame_time_s(i, tick_ms), height, width) for i in range(n_ticks)])


def contact_sheet(frames: np.ndarray, path: str, *, cols: int = 10,
                  labels: Sequence[str] | None = None) -> None:
  """Saves frames uint8 `[n, H, W, 3]` as one PNG grid, `cols` per row, row-major.

  Small frames are enlarged (nearest neighbour) to at least 120 pixels a
  side; cells are separated by 2 grey pixels; `labels` (one per frame, e.g.
  tick numbers) are written under the cells. Needs pillow.
  """
  from PIL import Image, ImageDraw  # pylint: disable=g-import-not-at-top

  _check(frames.ndim == 4 and frames.shape[-1] == 3 and frames.dtype == np.uint8
         and frames.shape[0] > 0, f"frames must be uint8 [n, H, W, 3], got "
                                  f"{frames.dtype} {frames.shape}")
  _check(cols > 0, f"cols must be positive, got {cols}")
  _check(labels is None or len(labels) == len(frames),
         f"need one label per frame ({len(frames)}), got {None if labels is None else len(labels)}")
  n, height, width, _ = frames.shape
  scale = max(1, math.ceil(120 / min(height, width)))
  cell_h, cell_w = height * scale, width * scale
  label_h, gap = (14 if labels is not None else 0), 2
  rows = math.ceil(n / cols)
  sheet = Image.new("RGB", (cols * (cell_w + gap) + gap, rows * (cell_h + label_h + gap) + gap),
                    (96, 96, 96))
  draw = ImageDraw.Draw(sheet)
  for i, frame in enumerate(frames):
    r, c = divmod(i, cols)
    left, top = gap + c * (cell_w + gap), gap + r * (cell_h + label_h + gap)
    sheet.paste(Image.fromarray(frame).resize((cell_w, cell_h), Image.NEAREST), (left, top))
    if labels is not None:
      draw.text((left + 2, top + cell_h + 1), labels[i], fill=(255, 255, 255))
  sheet.save(path)
