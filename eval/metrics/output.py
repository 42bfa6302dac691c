"""What a model said and when: the model-side input of every metric.

All times are *heard* times in ms from the episode start, the convention of the
ground truth (`data_pipelines.episode`): tick t is playback time
[t * tick_ms, (t + 1) * tick_ms), and what the model emits in tick t is heard in
tick t + 1.

- `Word`: one word of the text-out channel as the model wrote it (with its
  punctuation, "Five." or "it's"), heard from start_ms to end_ms.
- `Utterance`: one stretch of audible model speech [start_ms, end_ms) and the
  words heard in it.
- `ModelOutput`: the utterances in time order, and the emission times of the
  model's `<delegate>` tokens (`delegate_ms`: emission tick * tick_ms, not
  heard times; control tokens are not heard).

`from_ticks` builds a `ModelOutput` from a streaming run's per-tick outputs.

Content is compared after `normalize`: lower case, runs of characters other
than a-z, 0-9 and the apostrophe become one space, and a number 0-20 written in
digits becomes its word ("It's 5!" -> "it's five"). This is the ground truth's
`planning.normalize_numbers`; applied to both sides it also matches the
`planning.normalize` forms of the speech families' accept lists.
"""

from collections.abc import Iterator, Sequence
import dataclasses
import re

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                 "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                 "seventeen", "eighteen", "nineteen", "twenty")
_SENTENCE_END = (".", "!", "?")


def normalize(text: str) -> str:
  """Normalized text for content matching (see the module docstring)."""
  words = re.sub(r"[^a-z0-9']+", " ", text.lower()).split()
  return " ".join(NUMBER_WORDS[int(w)] if w.isdigit() and int(w) <= 20 else w for w in words)


@dataclasses.dataclass(frozen=True)
class Word:
  """One word of the model's text channel, heard during [start_ms, end_ms)."""
  text: str
  start_ms: float
  end_ms: float


@dataclasses.dataclass(frozen=True)
class Utterance:
  """A stretch of audible model speech, [start_ms, end_ms), and its words in order."""
  start_ms: float
  end_ms: float
  words: tuple[Word, ...] = ()

  def __post_init__(self):
    if self.end_ms < self.start_ms:
      raise ValueError(f"utterance ends at {self.end_ms} ms before it starts at {self.start_ms} ms")

  @property
  def text(self) -> str:
    return " ".join(w.text for w in self.words)

  @classmethod
  def of(cls, text: str, start_ms: float, end_ms: float) -> "Utterance":
    """`text` heard over [start_ms, end_ms), its words spread evenly (the first starts at start_ms)."""
    parts = text.split()
    step = (end_ms - start_ms) / max(len(parts), 1)
    return cls(start_ms, end_ms, tuple(Word(p, start_ms + i * step, start_ms + (i + 1) * step)
                                       for i, p in enumerate(parts)))


@dataclasses.dataclass(frozen=True)
class ModelOutput:
  """Everything the metrics read from a model run (see the module docstring)."""
  utterances: tuple[Utterance, ...] = ()
  delegate_ms: tuple[float, ...] = ()

  def __post_init__(self):
    starts = [u.start_ms for u in self.utterances]
    if starts != sorted(starts):
      raise ValueError(f"utterances must be in time order; starts are {starts}")

  @property
  def words(self) -> tuple[Word, ...]:
    return tuple(w for u in self.utterances for w in u.words)


@dataclasses.dataclass(frozen=True)
class Phrase:
  """One or more consecutive sentences of one utterance: normalized text, heard start.

  parts: the (utterance index, sentence index) pairs it is made of.
  """
  text: str
  start_ms: float
  parts: frozenset[tuple[int, int]] = frozenset()


def sentences(output: ModelOutput) -> list[Phrase]:
  """Every sentence of every utterance, in time order.

  An utterance's words are cut into sentences after each word whose text ends
  in ".", "!" or "?" (and at the utterance's end); a sentence starts when its
  first word is heard. Sentences that normalize to nothing are dropped.
  """
  return [p for i, u in enumerate(output.utterances) for p in _sentence_runs(i, u, max_run=1)]


def phrases(output: ModelOutput) -> list[Phrase]:
  """Every run of one or more consecutive sentences within one utterance.

  These are the candidates a timing task's expected utterance is matched
  against: an expected text of two sentences matches the two said together,
  but a sentence is never split, so "Five four." does not match "five".
  """
  return sorted((p for i, u in enumerate(output.utterances)
                 for p in _sentence_runs(i, u, max_run=None)),
                key=lambda p: p.start_ms)


def _sentence_runs(index: int, utterance: Utterance, max_run: int | None) -> Iterator[Phrase]:
  cut: list[list[Word]] = [[]]
  for word in utterance.words:
    cut[-1].append(word)
    if word.text.rstrip().endswith(_SENTENCE_END):
      cut.append([])
  cut = [c for c in cut if normalize(" ".join(w.text for w in c))]
  for i in range(len(cut)):
    stop = len(cut) if max_run is None else min(len(cut), i + max_run)
    for j in range(i + 1, stop + 1):
      words = [w for c in cut[i:j] for w in c]
      yield Phrase(normalize(" ".join(w.text for w in words)), words[0].start_ms,
                   frozenset((index, k) for k in range(i, j)))


def heard_ms(output: ModelOutput, start_ms: float, end_ms: float) -> float:
  """How many ms of [start_ms, end_ms) the model is heard in (utterances never overlap)."""
  return sum(max(0.0, min(end_ms, u.end_ms) - max(start_ms, u.start_ms))
             for u in output.utterances)


def from_ticks(text_out: Sequence[str], heard: Sequence[bool], tick_ms: int,
               delegate_ticks: Sequence[int] = ()) -> ModelOutput:
  """The `ModelOutput` of a streaming run, from its per-tick outputs.

  Args:
    text_out: per tick t, the text the model emitted in tick t (its text-out
      slots decoded, `<pad>`, `<silence>` and control tokens removed).
    heard: per tick t, whether the model's audio is heard in tick t (its
      audio-out of tick t - 1 was not silent).
    tick_ms: the tick length.
    delegate_ticks: the ticks in which the model emitted `<delegate>`.

  Words are the runs of non-space characters of the concatenated text, also
  cut by any tick that emits no text (a line's last word has no space after
  it, and the next line's text follows after silent ticks); a word is
  heard from the tick after the one that emitted its first character to the end
  of the tick after the one that emitted its last. Utterances are the maximal
  runs of heard ticks. A word goes to the utterance whose ticks hold its start;
  a word starting after an utterance's end but before the next one starts
  (text lagging its speech) goes to the earlier utterance; a word before the
  first utterance was never heard and is dropped.
  """
  if len(text_out) != len(heard):
    raise ValueError(f"text_out has {len(text_out)} ticks but heard has {len(heard)}")
  runs, start = [], None
  for t, on in enumerate(list(heard) + [False]):
    if on and start is None:
      start = t
    elif not on and start is not None:
      runs.append((start, t))
      start = None
  words: list[Word] = []
  current: list[int] = []  # Emission ticks of the characters of the word being read.
  chars: list[str] = []
  for t, chunk in enumerate(list(text_out) + [" "]):
    for ch in chunk or " ":  # A tick that emits nothing ends the word being read.
      if ch.isspace():
        if chars:
          words.append(Word("".join(chars), (current[0] + 1) * tick_ms, (current[-1] + 2) * tick_ms))
        chars, current = [], []
      else:
        chars.append(ch)
        current.append(t)
  grouped: list[list[Word]] = [[] for _ in runs]
  for word in words:
    owner = [i for i, (a, _) in enumerate(runs) if a * tick_ms <= word.start_ms]
    if owner:
      grouped[owner[-1]].append(word)
  return ModelOutput(
      utterances=tuple(Utterance(a * tick_ms, b * tick_ms, tuple(g))
                       for (a, b), g in zip(runs, grouped)),
      delegate_ms=tuple(t * tick_ms for t in delegate_ticks))
