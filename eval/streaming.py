"""Streaming evaluation: heldout episodes played tick by tick into sessions, in time order.

No teacher forcing: tick t's inputs (`EvalEpisode.inputs[t]`, the world's side
only) go in, the model's tick t comes out, and its own speech reaches it only
through the engine. Episodes are played in groups of `player.max_sessions`,
every tick of a group one batched `player.step` call.

Modes:
  "ours": `allow_speech` is always True: the model alone decides when to speak.
  "baseline_response", "baseline_floor": a `baseline.TurnGate` per session
    with that policy ("response": one response per detected turn; "floor":
    the floor until anyone speaks again) listens to the tick's mic audio and
    decides `allow_speech` before the tick is stepped (causal; see
    `eval.baseline`).

A `SessionRun` records per tick the text-out tokens, whether audio came out and
the gate; `SessionRun.output()` is the `metrics.ModelOutput` that scoring
reads (`metrics.from_ticks`: what the model emits in tick t is heard in t + 1).
"""

from collections.abc import Sequence
import dataclasses

import numpy as np
import tqdm

from data_pipelines import text
from eval import baseline
from eval import episodes as episodes_lib
from eval import metrics

MODES = ("ours", "baseline_response", "baseline_floor")


def harness_for(mode: str, harness: baseline.HarnessConfig) -> baseline.HarnessConfig | None:
  """The harness config of `mode` (None for "ours"): `harness` with the mode's policy."""
  if mode not in MODES:
    raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
  if mode == "ours":
    return None
  return dataclasses.replace(harness, policy=mode.removeprefix("baseline_"))


@dataclasses.dataclass(frozen=True)
class SessionRun:
  """One episode played in one mode.

  text_out: int32 [n_ticks, text_out_tokens], the tokens the model emitted per tick.
  spoke: per tick, audio came out (it is heard in the next tick).
  allow: per tick, the allow_speech flag the session got.
  gate: the harness trace (baseline modes only).
  """
  family: str
  index: int
  mode: str
  tick_ms: int
  text_out: np.ndarray
  spoke: tuple[bool, ...]
  allow: tuple[bool, ...]
  gate: baseline.GateTrace | None = None

  def texts(self) -> list[str]:
    """Per tick, the emitted bytes decoded (UTF-8, errors replaced); every other token
    (<silence>, <pad>, controls, ids of the vocabulary's unnamed special capacity that an
    untrained model may emit) is dropped."""
    return [text.decode([t for t in row if t < text.N_BYTES], errors="replace")
            for row in self.text_out]

  def heard(self) -> list[bool]:
    """Per tick, the model is heard (it emitted audio in the tick before)."""
    return [False] + list(self.spoke[:-1])

  def delegate_ticks(self) -> list[int]:
    return [t for t, row in enumerate(self.text_out) if text.DELEGATE in row]

  def output(self) -> metrics.ModelOutput:
    return metrics.from_ticks(self.texts(), self.heard(), self.tick_ms, self.delegate_ticks())


def play(player, episodes: Sequence[episodes_lib.EvalEpisode], mode: str,
         harness: baseline.HarnessConfig = baseline.HarnessConfig(),
         progress: bool = False) -> list[SessionRun]:
  """Plays every episode through `player` (see `eval.players`) in `mode`; runs in input order.

  `harness` gives the VAD settings and response timeout of the baseline modes
  (its policy is the mode's).
  """
  config = harness_for(mode, harness)
  if not episodes:
    raise ValueError("no episodes to play")
  player.begin()
  runs: list[SessionRun] = []
  size = player.max_sessions
  groups = [episodes[i:i + size] for i in range(0, len(episodes), size)]
  bar = tqdm.tqdm(total=sum(max(e.n_ticks for e in g) for g in groups), unit="tick",
                  desc=f"{mode} ({len(episodes)} episodes)", disable=not progress)
  for group in groups:
    runs += _play_group(player, group, mode, config, bar)
  bar.close()
  return runs


def _play_group(player, group, mode, config, bar) -> list[SessionRun]:
  sids = [player.open(ep) for ep in group]
  gates = [baseline.TurnGate(config, ep.layout.tick_ms) if config else None for ep in group]
  tokens = [[] for _ in group]
  spoke = [[] for _ in group]
  try:
    for t in range(max(ep.n_ticks for ep in group)):
      live = [i for i, ep in enumerate(group) if t < ep.n_ticks]
      allow = {sids[i]: (gates[i].step(group[i].mic_tick(t), group[i].inputs[t],
                                       bool(spoke[i]) and spoke[i][-1])
                         if gates[i] else True) for i in live}
      results = player.step({sids[i]: group[i].inputs[t] for i in live}, allow)
      for i in live:
        result = results[sids[i]]
        tokens[i].append(np.asarray(result.text_out, np.int32))
        spoke[i].append(result.audio_out is not None)
        if t + 1 == group[i].n_ticks:
          player.close(sids[i])
          sids[i] = None
      bar.update(1)
  finally:
    for sid in sids:
      if sid is not None:
        player.close(sid)
  return [SessionRun(family=ep.family, index=ep.index, mode=mode, tick_ms=ep.layout.tick_ms,
                     text_out=np.stack(tokens[i]), spoke=tuple(spoke[i]),
                     allow=tuple(gates[i].allow) if gates[i] else (True,) * ep.n_ticks,
                     gate=gates[i].trace() if gates[i] else None)
          for i, ep in enumerate(group)]
