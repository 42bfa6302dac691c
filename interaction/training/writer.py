"""Visibility: TensorBoard scalars (tensorboardX) and a tqdm progress bar, on process 0 only."""

import os

import jax
import tensorboardX
import tqdm


class MetricWriter:
  """Scalars to `<workdir>/tensorboard` and a console progress bar (no-ops off process 0)."""

  def __init__(self, workdir: str, *, total_steps: int, start_step: int):
    self.active = jax.process_index() == 0
    self.summary = (tensorboardX.SummaryWriter(os.path.join(workdir, "tensorboard"))
                    if self.active else None)
    self.bar = tqdm.tqdm(total=total_steps, initial=start_step, disable=not self.active,
                         unit="step", dynamic_ncols=True)

  def scalars(self, step: int, values: dict[str, float], prefix: str = "") -> None:
    if self.active:
      for name, value in values.items():
        self.summary.add_scalar(prefix + name, float(value), step)
      self.summary.flush()

  def progress(self, steps: int, *, loss: float, tokens_per_s: float, step_s: float) -> None:
    """Advances the bar by `steps` and shows the latest loss, tokens/s and step time."""
    self.bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{tokens_per_s:,.0f}",
                         step_s=f"{step_s:.3f}", refresh=False)
    self.bar.update(steps)

  def message(self, text: str) -> None:
    """A console line that does not break the bar."""
    if self.active:
      self.bar.write(text)

  def close(self) -> None:
    self.bar.close()
    if self.summary is not None:
      self.summary.close()
