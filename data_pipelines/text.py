"""Byte-level text tokens plus the stream's special tokens.

Ids 0..255 are the UTF-8 bytes, so any text round-trips exactly. Special tokens
take ids from 256 on; the vocabulary has a fixed size (`VOCAB_SIZE`) with room
for more specials, so adding one never changes a model's embedding shapes.

Special tokens used by the stream:
  <pad>       an empty slot: nothing in it, excluded from losses.
  <silence>   the model's choice not to speak in a text-out slot.
  <tick>      the marker that opens every tick.
  <delegate>  hand the conversation to the background model.
  <bg_start> / <bg_end>  bracket a background model's result in bg-in slots.
  <bos> / <eos>          start and end of a text span.
  <word>      a word boundary in the model's inner monologue (aligned text).
"""

from collections.abc import Iterable, Sequence
import re

import numpy as np

N_BYTES = 256
SPECIAL_TOKENS = (
    "pad",
    "silence",
    "tick",
    "delegate",
    "bg_start",
    "bg_end",
    "bos",
    "eos",
    "word",
)
N_SPECIAL_CAPACITY = 128
VOCAB_SIZE = N_BYTES + N_SPECIAL_CAPACITY  # 384: a multiple of 128 for TPU tiles.

if len(SPECIAL_TOKENS) > N_SPECIAL_CAPACITY:
  raise AssertionError("more special tokens than the vocabulary reserves")

_SPECIAL_IDS = {name: N_BYTES + i for i, name in enumerate(SPECIAL_TOKENS)}
_SPECIAL_MARKUP = re.compile(r"<([a-z_]+)>")


def special_id(name: str) -> int:
  """The id of special token `name` (given as "delegate" or "<delegate>")."""
  bare = name[1:-1] if name.startswith("<") and name.endswith(">") else name
  if bare not in _SPECIAL_IDS:
    raise ValueError(
        f"unknown special token {name!r}; expected one of "
        f"{', '.join('<' + n + '>' for n in SPECIAL_TOKENS)}")
  return _SPECIAL_IDS[bare]


PAD = special_id("pad")
SILENCE = special_id("silence")
TICK = special_id("tick")
DELEGATE = special_id("delegate")
BG_START = special_id("bg_start")
BG_END = special_id("bg_end")


def is_special(token_id: int) -> bool:
  """True for ids of named special tokens."""
  return N_BYTES <= token_id < N_BYTES + len(SPECIAL_TOKENS)


def encode(text: str, *, allow_special: bool = False) -> np.ndarray:
  """Text → int32 token ids `[n]`.

  Args:
    text: any str; encoded as UTF-8 bytes.
    allow_special: if True, markup such as "<delegate>" becomes the special
      token (an unknown name in angle brackets is then an error). If False
      (the default, right for user-supplied text), "<delegate>" is just bytes,
      so user text can never inject control tokens.
  """
  if not isinstance(text, str):
    raise ValueError(f"encode expects str text, got {type(text).__name__}")
  if not allow_special:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int32)
  ids: list[int] = []
  cursor = 0
  for match in _SPECIAL_MARKUP.finditer(text):
    ids.extend(text[cursor:match.start()].encode("utf-8"))
    ids.append(special_id(match.group(1)))
    cursor = match.end()
  ids.extend(text[cursor:].encode("utf-8"))
  return np.asarray(ids, dtype=np.int32)


def decode(token_ids: Iterable[int], *, skip_special: bool = False,
           errors: str = "strict") -> str:
  """Token ids → text; specials are written as "<name>" unless skipped.

  `decode(encode(s)) == s` for every str s. Model output may end inside a
  multi-byte character; pass errors="replace" to decode such text leniently.
  Ids outside the vocabulary or reserved-but-unnamed ids raise ValueError.
  """
  pieces: list[str] = []
  pending = bytearray()
  for token in token_ids:
    token = int(token)
    if 0 <= token < N_BYTES:
      pending.append(token)
      continue
    if not is_special(token):
      raise ValueError(
          f"token id {token} is not a byte (0..255) or a named special token "
          f"(256..{N_BYTES + len(SPECIAL_TOKENS) - 1})")
    pieces.append(pending.decode("utf-8", errors=errors))
    pending.clear()
    if not skip_special:
      pieces.append(f"<{SPECIAL_TOKENS[token - N_BYTES]}>")
  pieces.append(pending.decode("utf-8", errors=errors))
  return "".join(pieces)


def pad_to(token_ids: Sequence[int], length: int, *, what: str = "text") -> np.ndarray:
  """Right-pads ids with <pad> to `length`; longer input is a ValueError."""
  ids = np.asarray(token_ids, dtype=np.int32).reshape(-1)
  if ids.size > length:
    raise ValueError(f"{what} has {ids.size} tokens but its slots hold at most {length}")
  check_ids(ids, what=what)
  return np.concatenate([ids, np.full(length - ids.size, PAD, np.int32)])


def decode_bytes(token_ids: Iterable[int]) -> str:
  """The byte tokens among `token_ids` as text (UTF-8, malformed bytes replaced).

  Specials and reserved ids are dropped: for showing what a model, possibly
  untrained, wrote in its text-out slots.
  """
  return decode([int(t) for t in token_ids if 0 <= int(t) < N_BYTES], errors="replace")


def check_ids(token_ids: np.ndarray, *, what: str = "token ids") -> None:
  """Raises ValueError unless every id lies in [0, VOCAB_SIZE)."""
  ids = np.asarray(token_ids)
  if not np.issubdtype(ids.dtype, np.integer):
    raise ValueError(f"{what} must be integers, got dtype {ids.dtype}")
  if ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE):
    raise ValueError(f"{what} must lie in [0, {VOCAB_SIZE}), got values in "
                     f"[{ids.min()}, {ids.max()}]")
