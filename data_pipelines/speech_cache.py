"""A content-addressed disk cache of synthesized speech.

Training builds episodes on the fly; without a cache it would spend most of
its time in espeak. Each utterance is stored once under the SHA-256 of
everything that determines its samples (text, voice, rate, pitch, pitch range,
word gap, the espeak version and this file's format version), so entries never
go stale and any number of processes can share one directory:

- Readers never see a partial file: a writer writes a temporary file in the
  same folder and renames it into place (atomic on POSIX).
- Two processes that miss the same key both synthesize it (deterministically:
  the same bytes) and the last rename wins; nothing is corrupted.
- A file that cannot be read back (a truncated copy, disk trouble) is
  synthesized again and replaced, with a warning.

The directory defaults to $MICROTURN_CACHE/speech, else ~/.cache/microturn/speech.
"""

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import zipfile

from absl import logging
import numpy as np

from data_pipelines import speech

_FORMAT_VERSION = 1


@functools.cache
def _espeak_version() -> str:
  """Read once: `speech.espeak_version` takes espeak's global lock, which a
  cache hit must not wait on while another thread synthesizes."""
  return speech.espeak_version()


def default_directory() -> str:
  root = os.environ.get("MICROTURN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                            "microturn")
  return os.path.join(root, "speech")


@dataclasses.dataclass(frozen=True)
class Voice:
  """How a speaker sounds: espeak voice name (with optional +variant), rate, pitch."""
  name: str = "en-us"
  rate: int = 175
  pitch: int = 50
  pitch_range: int = 50


class SpeechCache:
  """`synthesize` with a shared, content-addressed disk cache in front."""

  def __init__(self, directory: str | None = None):
    self.directory = directory or default_directory()
    self.hits = 0
    self.misses = 0

  def _key(self, text: str, voice: Voice) -> str:
    identity = dict(text=text, voice=dataclasses.asdict(voice), espeak=_espeak_version(),
                    format=_FORMAT_VERSION)
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()

  def path(self, text: str, voice: Voice) -> str:
    key = self._key(text, voice)
    return os.path.join(self.directory, key[:2], key + ".npz")

  def synthesize(self, text: str, voice: Voice = Voice()) -> speech.Speech:
    """The same result as `speech.synthesize(text, **voice)`, from disk when cached."""
    path = self.path(text, voice)
    if os.path.exists(path):
      try:
        loaded = self._read(path, text)
        self.hits += 1
        return loaded
      except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        logging.warning("speech cache entry %s is unreadable (%s); synthesizing it again",
                        path, error)
    spoken = speech.synthesize(text, voice=voice.name, rate=voice.rate, pitch=voice.pitch,
                               pitch_range=voice.pitch_range)
    self._write(path, spoken)
    self.misses += 1
    return spoken

  @staticmethod
  def _read(path: str, text: str) -> speech.Speech:
    with np.load(path, allow_pickle=False) as stored:
      words = stored["words"]  # int64 [n_words, 4]: char_start, char_end, start, end samples
      audio = stored["audio"]
      if str(stored["text"]) != text:
        raise ValueError("stored text differs from the requested text (hash collision?)")
    timings = tuple(speech.WordTiming(text=text[a:b], char_start=int(a), char_end=int(b),
                                      start_sample=int(s), end_sample=int(e))
                    for a, b, s, e in words)
    audio.setflags(write=False)
    return speech.Speech(audio=audio, words=timings, text=text)

  def _write(self, path: str, spoken: speech.Speech) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    words = np.array([(w.char_start, w.char_end, w.start_sample, w.end_sample)
                      for w in spoken.words], dtype=np.int64).reshape(-1, 4)
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    try:
      with os.fdopen(handle, "wb") as f:
        np.savez(f, audio=spoken.audio, words=words, text=np.array(spoken.text))
      os.replace(temporary, path)
    except BaseException:
      if os.path.exists(temporary):
        os.remove(temporary)
      raise
