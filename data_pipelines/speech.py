"""Real speech with word timings, synthesized by libespeak-ng.

The PyPI wheel `espeakng-loader` ships libespeak-ng (1.52.0) and its voice
data. This module drives that library through ctypes in its synchronous mode
(no audio device, no threads of its own) and returns 16 kHz float32 audio with
sample-accurate word timings.

Guarantees:
  * Audio is float32 mono at `SAMPLE_RATE` (16 kHz), finite, within [-1, 1],
    resampled from espeak's native 22050 Hz by the exact ratio 320/441.
  * Determinism: the same arguments give bit-identical audio and timings,
    whatever ran before in the process. espeak keeps synthesis state across
    utterances in static variables that no API resets, and seeds its noise
    from the clock; so every call loads the library afresh (about 1 ms), sets
    the voice and every parameter, and seeds espeak's and libc's noise.
  * Thread safety: a module-level lock serializes all use of the library. The
    voice catalogue is read lazily, once.
  * Bad input raises ValueError naming what was wrong and what is accepted;
    since no espeak state survives a call, a failed call cannot disturb the
    next one.

Word timing convention. A *word* is a whitespace-delimited token of the text
in which espeak reported a word start (espeakEVENT_WORD), with leading and
trailing punctuation (Unicode category P*) removed unless the token is only
punctuation: "Hello," gives "Hello", "(don't)" gives "don't", "50%" gives "50",
"&" stays "&", and "stop—ever" (no spaces) is one word. Tokens espeak does not
speak (a lone "—", "...") are not words; an event espeak places on a
punctuation token goes to the next token if that has none ("- word"). A word
starts at espeak's first event in its token (a stop consonant's silent closure
belongs to the word) and ends at the next word's start, or at the end of the
audio for the last word, pulled back to just after its last sample louder than
-66 dBFS. That drops the clause and sentence pauses, which espeak appends to
the word before them, so intervals hold speech (and the echo of voices that
have one, like "+f3"). Positions come from each event's exact 22050 Hz sample
index, mapped to 16 kHz by rounding.

Process-wide side effects: espeak sets LC_CTYPE to a UTF-8 locale; libc's
`rand()` is reseeded (`srand`) before every call; and each call leaves what
espeak does not free allocated (about 2 KB for English text, see
`_fresh_library`).
"""

import argparse
import bisect
import contextlib
import ctypes
import dataclasses
import numbers
import os
import re
import threading
import unicodedata

import numpy as np
from scipy import signal

SAMPLE_RATE = 16000
ESPEAK_SAMPLE_RATE = 22050
# espeak's documented speaking-rate range, in words per minute.
MIN_RATE, MAX_RATE = 80, 450
# Base pitch and pitch range are espeak percentages (50 is the voice default).
MIN_PITCH, MAX_PITCH = 0, 100
# Our own bound on the extra pause between words, in espeak's unit of 10 ms at
# the default rate (espeak accepts any non-negative value).
MAX_WORD_GAP = 200

# resample_poly's zero-phase filter keeps times: native sample i is at 16 kHz
# sample i * _UP / _DOWN.
_UP, _DOWN = 320, 441
# Native int16 samples at or below this magnitude (-66 dBFS) count as silence
# when trimming word ends; espeak's pauses are exact zeros with rare +-2 dither.
_SILENCE_INT16 = 16
_RAND_SEED = 1

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EE_OK = 0
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE, _PARAM_WORDGAP = 1, 2, 3, 4, 7


@dataclasses.dataclass(frozen=True)
class WordTiming:
  """One spoken word: `text == Speech.text[char_start:char_end]`.

  Samples are at 16 kHz, `0 <= start_sample < end_sample <= len(audio)`, and
  words of one utterance never overlap: `end_sample <= next.start_sample`.
  """

  text: str
  char_start: int
  char_end: int
  start_sample: int
  end_sample: int

  @property
  def start_s(self) -> float:
    return self.start_sample / SAMPLE_RATE

  @property
  def end_s(self) -> float:
    return self.end_sample / SAMPLE_RATE


@dataclasses.dataclass(frozen=True, eq=False)
class Speech:
  """One synthesized utterance; `audio` is read-only. Compares by identity."""

  audio: np.ndarray  # float32 [n_samples] at `sample_rate`, within [-1, 1]
  words: tuple[WordTiming, ...]  # in text and time order
  text: str
  sample_rate: int = SAMPLE_RATE

  @property
  def duration_s(self) -> float:
    return self.audio.shape[0] / self.sample_rate


class _EventId(ctypes.Union):
  _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
  _fields_ = [
      ("type", ctypes.c_int),
      ("unique_identifier", ctypes.c_uint),
      ("text_position", ctypes.c_int),  # 1-based index into the text, in characters
      ("length", ctypes.c_int),  # unreliable (often 0 or short), not used
      ("audio_position", ctypes.c_int),  # ms, truncated
      ("sample", ctypes.c_int),  # exact native sample index
      ("user_data", ctypes.c_void_p),
      ("id", _EventId),
  ]


class _Voice(ctypes.Structure):
  _fields_ = [
      ("name", ctypes.c_char_p),
      ("languages", ctypes.c_void_p),  # priority byte, then a NUL-terminated language code
      ("identifier", ctypes.c_char_p),
      ("gender", ctypes.c_ubyte),
      ("age", ctypes.c_ubyte),
      ("variant", ctypes.c_ubyte),
      ("xx1", ctypes.c_ubyte),
      ("score", ctypes.c_int),
      ("spare", ctypes.c_void_p),
  ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)

# Output of the utterance being synthesized; only touched while holding _LOCK.
_samples: list[np.ndarray] = []  # int16 [chunk] at 22050 Hz
_events: list[tuple[int, int, int]] = []  # (type, text_position, sample)


def _collect(wav, n_samples, events) -> int:
  if wav and n_samples > 0:
    _samples.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
  i = 0
  while events[i].type != _EVENT_LIST_TERMINATED:
    _events.append((events[i].type, events[i].text_position, events[i].sample))
    i += 1
  return 0  # continue synthesis


_CALLBACK = _SynthCallback(_collect)
_LOCK = threading.Lock()
_libc = ctypes.CDLL(None)
_libc.dlclose.argtypes = [ctypes.c_void_p]


def _library_paths() -> tuple[str, str]:
  """(libespeak-ng.so, the folder that contains espeak-ng-data)."""
  try:
    import espeakng_loader  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(
        "data_pipelines.speech needs the espeakng-loader wheel: pip install -e .[audio]"
    ) from e
  data = espeakng_loader.get_data_path()
  return espeakng_loader.get_library_path(), data[: data.rindex("espeak-ng-data")]


@contextlib.contextmanager
def _fresh_library():
  """Loads libespeak-ng from scratch for one use, then unloads it. Hold _LOCK.

  espeak keeps synthesis state across utterances in static variables that no
  API resets (the pitch-flutter phase, the gain control, cycle counters), so
  the same call made twice in one load gives slightly different audio. A new
  load starts from the file's pristine state; it costs about 1 ms. What
  espeak_Terminate does not free stays allocated: about 2 KB per English
  utterance, and about 180 KB when espeak switches dictionaries mid-text
  (English words in French text, say).
  """
  lib_path, data_parent = _library_paths()
  try:
    other = ctypes.CDLL(lib_path, mode=os.RTLD_NOLOAD)
  except OSError:
    pass  # not loaded: ours will be a fresh copy
  else:
    _libc.dlclose(other._handle)  # pylint: disable=protected-access
    raise RuntimeError(
        f"{lib_path} is already loaded by other code in this process; its state "
        "could not be reset between utterances, so synthesis would not be deterministic"
    )
  lib = ctypes.CDLL(lib_path)
  try:
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    lib.espeak_ListVoices.argtypes = [ctypes.POINTER(_Voice)]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    lib.espeak_Info.argtypes = [ctypes.c_void_p]
    lib.espeak_Info.restype = ctypes.c_char_p
    rate = lib.espeak_Initialize(
        _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent.encode(), _INITIALIZE_DONT_EXIT
    )
    if rate != ESPEAK_SAMPLE_RATE:
      raise RuntimeError(
          f"espeak_Initialize returned {rate}, expected the sample rate "
          f"{ESPEAK_SAMPLE_RATE}; is the voice data in {data_parent} intact?"
      )
    lib.espeak_SetSynthCallback(_CALLBACK)
    yield lib
  finally:
    lib.espeak_Terminate()
    _libc.dlclose(lib._handle)  # pylint: disable=protected-access


@dataclasses.dataclass(frozen=True)
class _Catalog:
  version: str
  languages: tuple[str, ...]  # sorted language codes, one per voice
  voices: dict[str, str]  # lower-cased accepted spelling -> voice identifier
  variants: dict[str, str]  # lower-cased variant name -> its exact file name


_catalog: _Catalog | None = None


def _list(lib, spec: _Voice | None) -> list[_Voice]:
  voices = lib.espeak_ListVoices(ctypes.byref(spec) if spec is not None else None)
  result = []
  while voices[len(result)]:
    result.append(voices[len(result)].contents)
  return result


def _has_dictionary(data_dir: str, identifier: str, language: str) -> bool:
  """Whether the voice's pronunciation dictionary is installed.

  Like espeak, takes the dictionary from the voice file's "dictionary" line,
  else from its language code up to the first "-". A few listed voices (fo,
  kaa, xex in the wheel's 1.52 data) have none and would speak nothing.
  """
  name = language.split("-", 1)[0]
  with open(os.path.join(data_dir, "lang", identifier), encoding="utf-8") as f:
    for line in f:
      key, _, value = line.partition(" ")
      if key == "dictionary" and value.strip():
        name = value.split()[0]
  return os.path.exists(os.path.join(data_dir, f"{name}_dict"))


def _get_catalog() -> _Catalog:
  """The usable voices of the installed data, read once. Hold _LOCK."""
  global _catalog
  if _catalog is None:
    data_dir = os.path.join(_library_paths()[1], "espeak-ng-data")
    with _fresh_library() as lib:
      voices, names = {}, []
      for voice in _list(lib, None):
        # `languages` starts with a priority byte, then the main language code.
        language = ctypes.string_at(voice.languages + 1).decode()
        identifier = voice.identifier.decode()
        if not _has_dictionary(data_dir, identifier, language):
          continue
        keys = (language.lower(), identifier.rsplit("/", 1)[-1].lower(), identifier.lower())
        names.append(next(k for k in keys if k not in voices))  # the first unclaimed
        for key in keys:
          voices.setdefault(key, identifier)
      variant_language = ctypes.create_string_buffer(b"variant")  # alive while listing
      spec = _Voice(languages=ctypes.addressof(variant_language))
      variants = [v.identifier.decode().split("/", 1)[1] for v in _list(lib, spec)]
      _catalog = _Catalog(
          version=lib.espeak_Info(None).decode(),
          languages=tuple(sorted(names)),
          voices=voices,
          variants={name.lower(): name for name in sorted(variants, key=str.lower)},
      )
  return _catalog


def espeak_version() -> str:
  """The version of the bundled libespeak-ng, e.g. "1.52.0"."""
  with _LOCK:
    return _get_catalog().version


def list_voices() -> tuple[str, ...]:
  """Usable language voices, sorted, named by language code ("en-gb", "en-us", "fr-fr").

  A voice whose code another voice already has is named by its file name
  ("yue-latn-jyutping"); voices whose dictionary is missing are left out.
  `synthesize(voice=...)` also accepts a voice file name ("en") or identifier
  ("gmw/en-US"), case-insensitively, and any of these followed by "+variant".
  """
  with _LOCK:
    return _get_catalog().languages


def list_variants() -> tuple[str, ...]:
  """Voice variants for the "+variant" suffix ("f3", "m1", "klatt", "whisper")."""
  with _LOCK:
    return tuple(_get_catalog().variants.values())


def _synthesize_native(text: str, voice_name: str, params: dict[int, int]):
  """Returns (int16 [n] at 22050 Hz, [(type, text_position, sample)]). Hold _LOCK."""
  with _fresh_library() as lib:
    if lib.espeak_SetVoiceByName(voice_name.encode()) != _EE_OK:
      raise RuntimeError(f"espeak could not load voice {voice_name!r}")
    for param, value in params.items():
      if lib.espeak_SetParameter(param, value, 0) != _EE_OK:
        raise RuntimeError(f"espeak rejected parameter {param}={value}")
    # Breath noise uses espeak's own generator, which espeak_Initialize seeds
    # from the clock; speechPlayer's noise (variants Reed, caleb) uses rand().
    lib.espeak_ng_SetRandSeed(_RAND_SEED)
    _libc.srand(_RAND_SEED)
    data = text.encode("utf-8") + b"\0"
    _samples.clear()
    _events.clear()
    try:
      status = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
      if status != _EE_OK:
        raise RuntimeError(f"espeak_Synth failed with status {status}")
      audio = np.concatenate(_samples) if _samples else np.zeros(0, np.int16)
      return audio, list(_events)
    finally:
      _samples.clear()
      _events.clear()


def _check_int(name: str, value, low: int, high: int) -> int:
  if not isinstance(value, numbers.Integral) or isinstance(value, bool):
    raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
  if not low <= value <= high:
    raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
  return int(value)


def _resolve_voice(catalog: _Catalog, voice) -> str:
  """Maps a voice spec to a name espeak_SetVoiceByName accepts, or raises ValueError.

  espeak itself would reject "en-gb" (it matches file names, not language
  codes) and silently ignore an unknown or second "+variant".
  """
  examples = "e.g. 'en-us', 'en-gb', 'en', 'fr', 'en-us+f3' (see list_voices(), list_variants())"
  if not isinstance(voice, str):
    raise ValueError(f"voice must be a str, {examples}; got {voice!r}")
  base, plus, variant = voice.partition("+")
  identifier = catalog.voices.get(base.strip().lower())
  if identifier is None:
    raise ValueError(
        f"unknown espeak voice {base!r} in voice={voice!r}; expected a language, {examples}"
    )
  if not plus:
    return identifier
  canonical = catalog.variants.get(variant.strip().lower())
  if canonical is None:
    raise ValueError(
        f"unknown espeak voice variant {variant!r} in voice={voice!r}; expected one variant "
        "after '+', e.g. f3, m3, klatt, whisper (see list_variants())"
    )
  return f"{identifier}+{canonical}"


def _check_text(text) -> None:
  if not isinstance(text, str):
    raise ValueError(f"text must be a str, got {type(text).__name__}")
  if not text.strip():
    raise ValueError(f"text must contain something to speak, got {text!r}")
  if "\0" in text:
    raise ValueError("text must not contain NUL characters (espeak reads a C string)")
  try:
    text.encode("utf-8")
  except UnicodeEncodeError as e:
    raise ValueError(f"text must be valid Unicode (it is sent as UTF-8): {e}") from None


_TOKEN = re.compile(r"\S+")


def _word_span(text: str, start: int, end: int) -> tuple[int, int]:
  """Strips leading and trailing punctuation from a token unless that empties it."""
  lo, hi = start, end
  while lo < hi and unicodedata.category(text[lo]).startswith("P"):
    lo += 1
  while hi > lo and unicodedata.category(text[hi - 1]).startswith("P"):
    hi -= 1
  return (lo, hi) if lo < hi else (start, end)


def _to_output_index(native: int) -> int:
  return (native * _UP + _DOWN // 2) // _DOWN  # rounded


def _output_length(n_native: int) -> int:
  return -(-n_native * _UP // _DOWN)  # what resample_poly returns


def _is_punctuation(token: str) -> bool:
  return all(unicodedata.category(c).startswith("P") for c in token)


def _align_words(text: str, audio_22k: np.ndarray, events) -> tuple[WordTiming, ...]:
  """Word timings at 16 kHz from espeak's word events (see the module docstring)."""
  if audio_22k.size == 0:
    return ()
  tokens = [m.span() for m in _TOKEN.finditer(text)]  # [(start, end)] in characters
  token_ends = [end for _, end in tokens]
  first_sample: dict[int, int] = {}  # token index -> native sample of its first word event
  for kind, text_position, sample in events:  # in time order
    if kind == _EVENT_WORD:
      # text_position is 1-based; an event between tokens belongs to the next one.
      token = bisect.bisect_right(token_ends, text_position - 1)
      if token < len(tokens):
        first_sample.setdefault(token, sample)
  # espeak may report a word at the punctuation before it ("- word"), leaving
  # the word itself without an event: give the word its event back.
  for token in sorted(first_sample):
    if (
        token + 1 < len(tokens)
        and token + 1 not in first_sample
        and _is_punctuation(text[slice(*tokens[token])])
    ):
      first_sample[token + 1] = first_sample.pop(token)
  order = sorted(first_sample)
  starts = [first_sample[t] for t in order]
  if any(b < a for a, b in zip(starts, starts[1:])):
    raise RuntimeError(f"espeak reported words out of time order for {text!r}")
  n_out = _output_length(audio_22k.shape[0])
  starts_out = [min(_to_output_index(start), n_out - 1) for start in starts]
  # A token whose start coincides with the next one's holds no audio of its own.
  kept = [k for k in range(len(order) - 1) if starts_out[k] < starts_out[k + 1]]
  kept += [len(order) - 1] if order else []
  loud = np.flatnonzero(np.abs(audio_22k.astype(np.int32)) > _SILENCE_INT16)  # [n_loud]
  words = []
  for i, k in enumerate(kept):
    limit = starts[kept[i + 1]] if i + 1 < len(kept) else audio_22k.shape[0]
    # Just after the last loud sample before `limit`; untrimmed for a silent word.
    last = np.searchsorted(loud, limit) - 1
    end = int(loud[last]) + 1 if last >= 0 and loud[last] >= starts[k] else limit
    end_out = max(min(_to_output_index(end), n_out), starts_out[k] + 1)
    lo, hi = _word_span(text, *tokens[order[k]])
    words.append(WordTiming(text[lo:hi], lo, hi, starts_out[k], end_out))
  return tuple(words)


def synthesize(
    text: str,
    *,
    voice: str = "en-us",
    rate: int = 175,
    pitch: int = 50,
    pitch_range: int = 50,
    word_gap: int = 0,
) -> Speech:
  """Speaks `text` with espeak and returns 16 kHz audio with word timings.

  Args:
    text: what to say; plain text (no SSML, no phoneme input), any Unicode
      except NUL.
    voice: a language voice from `list_voices()` (or its file name or
      identifier), optionally with "+variant" from `list_variants()`.
    rate: speaking rate in words per minute, in espeak's documented range
      [MIN_RATE, MAX_RATE] (it silently raises lower values to 80).
    pitch: base pitch, 0-100 (50 is the voice's normal pitch; espeak treats
      100 as 99).
    pitch_range: intonation range, 0 (monotone) to 100 (50 is normal).
    word_gap: extra pause between words in units of 10 ms at the default rate,
      in [0, MAX_WORD_GAP].

  Returns:
    A `Speech` whose words follow the convention in the module docstring.

  Raises:
    ValueError: bad text, an unknown voice or variant, a parameter out of
      range, or text in which espeak finds no word to speak (e.g. "?!").
  """
  _check_text(text)
  params = {
      _PARAM_RATE: _check_int("rate", rate, MIN_RATE, MAX_RATE),
      _PARAM_PITCH: _check_int("pitch", pitch, MIN_PITCH, MAX_PITCH),
      _PARAM_RANGE: _check_int("pitch_range", pitch_range, MIN_PITCH, MAX_PITCH),
      _PARAM_WORDGAP: _check_int("word_gap", word_gap, 0, MAX_WORD_GAP),
      _PARAM_VOLUME: 100,
  }
  with _LOCK:
    voice_name = _resolve_voice(_get_catalog(), voice)
    audio_22k, events = _synthesize_native(text, voice_name, params)  # int16 [n]
  words = _align_words(text, audio_22k, events)
  if not words:
    raise ValueError(f"espeak found no word to speak in text {text!r}")
  audio = signal.resample_poly(audio_22k.astype(np.float64) / 32768.0, _UP, _DOWN)
  audio = np.clip(audio, -1.0, 1.0).astype(np.float32)  # [n_out]
  audio.flags.writeable = False
  return Speech(audio=audio, words=words, text=text)


def _main() -> None:
  import soundfile  # pylint: disable=g-import-not-at-top

  parser = argparse.ArgumentParser(description="Speak text with espeak into a 16 kHz WAV file.")
  parser.add_argument("--text", required=True)
  parser.add_argument("--out", required=True, help="path of the .wav file to write")
  parser.add_argument("--voice", default="en-us")
  parser.add_argument("--rate", type=int, default=175)
  parser.add_argument("--pitch", type=int, default=50)
  args = parser.parse_args()
  try:
    speech = synthesize(args.text, voice=args.voice, rate=args.rate, pitch=args.pitch)
  except ValueError as e:
    parser.error(str(e))
  soundfile.write(args.out, speech.audio, speech.sample_rate, subtype="PCM_16")
  for w in speech.words:
    print(f"{w.start_s:7.3f} {w.end_s:7.3f}  {w.text}")


if __name__ == "__main__":
  _main()
