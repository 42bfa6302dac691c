"""CueSpeak: the model answers a verbal cue at once, while the user keeps talking.

The user sets a rule, then talks on (sentence after sentence, 150-450 ms
apart) with cue words and distractor words embedded; the model must say the
response right after each cue, over the user's speech, and nothing else.
Three rules, chosen uniformly per episode:

- "foreign_number": "Whenever I say a number in Spanish, say it in English."
  Cues are the numbers 2-10 in Spanish, French, German or Italian ("cinco" →
  "Five."). Distractors: English numbers ("I have five cousins"), which must
  not be translated, and other words of that language ("gracias").
- "word": "Whenever I say the word banana, say yellow." (also now → go,
  dog → woof, ...). Distractors: near misses ("bandana", "snow" for "now")
  and other ordinary nouns.
- "category": "Every time I mention a colour, say colour." (colours, animals,
  fruits). Distractors: words outside the category (other nouns, or
  adjectives such as "striped" in colour slots).

Foreign words are spoken natively: the sentence is cut at the word into
separate lines, the English parts in the user's voice and the foreign word in
the language's espeak voice (es, fr-fr, de, it) with the user's rate and
pitch and a voice variant of the user's gender from a per-split pool
(`FOREIGN_VARIANTS`), 40-120 ms after the part before it. English cue words
are spoken inside their sentence; their times come from espeak's word timings.

Timing of the target (all times as *heard*; tick t is [t, t + 1) * tick_ms):

- The instruction ends at t0 (end of its last word). A brief acknowledgement
  ("Got it.") is heard 300-600 ms later; it is target speech but *not
  required* (`truth["ack"]["required"] is False`; window as in `timespeak`).
  The user starts talking 700-1500 ms after t0.
- Cue words in the instruction itself get no response (they are in a silent
  span).
- A cue heard in ticks [tick(cue start), tick(cue end)] (tick(cue end) holds
  the word's last millisecond: the cue span's end_tick) is answered from the
  start of the next tick, `(tick(cue end) + 1) * tick_ms`: the earliest time
  a causal model can speak after hearing the whole word (its output of tick
  tick(cue end) plays in the next tick). The user does not pause for it.
- Window: the response's heard start must fall in ticks
  [tick(cue start) + 1, tick(cue end) + 3]: from the first tick the model could
  react to the cue's onset up to two ticks after the target.
- Sentences are delayed (the user pauses a little longer) where needed so that
  a response starts >= 200 ms after the model's previous speech ends.

Ground truth (`EpisodeScript.truth`), JSON-able; spans, utterances,
silent_spans and lines read as in `timespeak` (spans as in `turntaking`):

  family: "cuespeak";  rule: one of RULES;  tick_ms, n_ticks.
  instruction: span + {"text"}.
  rule_spec: foreign_number {"language": "Spanish", "voice": "es"};
    word {"cue", "response"}; category {"category", "members", "response"}.
  ack: utterance (role "ack") + {"required": False}.
  cues: list of span + {"word", "language" ("en" or the espeak voice code),
    "response": index into expected}, in time order.
  expected: list of utterances (role "cue_response", tolerance_ticks = the
    larger distance from the target tick to the window's ends) + {"cue": index
    into cues}; "accept" holds the alternatives ("colour"/"color", "five"/"5").
  distractors: list of span + {"word", "language", "kind"}: words that must
    NOT get a response; kind "near_miss" | "other_word" | "english_number" |
    "foreign_word" | "other_category".
  silent_spans: whole ticks outside the allowances of the ack and responses
    (window lo .. window hi + ceil(clip / tick_ms)), where the model must not
    be heard.
  lines: span + {"speaker", "text", "voice"} of every user line.

Splits: instructions, sentence templates and voices (user voices and the
foreign variants) are disjoint between "train" and "heldout"; cue words,
responses and distractor words are shared. Every draw fits in
`min_ticks(tick_ms)` ticks (MIN_EPISODE_MS): at least one cue; longer
episodes hold more sentences. Shorter episodes raise ValueError.
"""

from collections.abc import Sequence
import dataclasses
from typing import Any

import numpy as np

from data_pipelines import episode
from data_pipelines import speech_cache as cache_lib
from data_pipelines.scenarios import common
from data_pipelines.scenarios import planning

NAME = "cuespeak"
RULES = ("foreign_number", "word", "category")
MIN_EPISODE_MS = 12_000  # 60 ticks of 200 ms.

# Language name → (espeak voice, numbers 2..10, other words of the language).
_LANGUAGES = {
    "Spanish": ("es", ("dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve",
                       "diez"), ("hola", "gracias", "adiós", "amigo")),
    "French": ("fr-fr", ("deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf",
                         "dix"), ("bonjour", "merci", "salut", "voilà")),
    "German": ("de", ("zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
                      "zehn"), ("hallo", "danke", "tschüss", "genau")),
    "Italian": ("it", ("due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove",
                       "dieci"), ("ciao", "grazie", "prego", "allora")),
}
# Variants for the foreign words, by split and the user voice's gender.
FOREIGN_VARIANTS = {
    "train": {"m": ("m1", "m2", "m4"), "f": ("f2", "f4", "f5")},
    "heldout": {"m": ("m7", "m8"), "f": ("f1", "f3")},
}

# (cue, response, the cue's template slot, near misses said in "thing" slots).
_WORD_RULES = (
    ("banana", "yellow", "thing", ("bandana", "cabana", "piano")),
    ("now", "go", "adverb", ("snow", "cow", "bow")),
    ("dog", "woof", "thing", ("fog", "log", "dot")),
    ("rocket", "whoosh", "thing", ("pocket", "locket", "racket")),
    ("bell", "ding", "thing", ("ball", "belt", "shell")),
    ("pepper", "spicy", "thing", ("paper", "copper", "hopper")),
    ("window", "open", "thing", ("widow", "willow", "pillow")),
)
# Ordinary nouns for "thing" slots: no cue, category member or near miss.
_OTHER_THINGS = ("kettle", "ladder", "blanket", "bicycle", "spoon", "notebook", "carpet",
                 "umbrella")

# Category → (how the user names it, response, accepted forms, slot, members,
# distractors for that slot).
_CATEGORIES = {
    "colour": ("a colour", "Colour.", ("colour", "color"), "colour",
               ("red", "blue", "green", "yellow", "purple", "pink", "brown", "grey"),
               ("shiny", "dusty", "striped", "faded", "wooden", "tiny")),
    "animal": ("an animal", "Animal.", ("animal",), "thing",
               ("horse", "rabbit", "tiger", "donkey", "goat", "parrot", "elephant", "sheep"),
               ("kettle", "ladder", "pillow", "bicycle", "mango", "carrot")),
    "fruit": ("a fruit", "Fruit.", ("fruit",), "thing",
              ("apple", "mango", "grape", "pear", "lemon", "melon", "pineapple", "strawberry"),
              ("kettle", "ladder", "pillow", "rabbit", "carrot", "spoon")),
}

_INSTRUCTIONS = {
    "foreign_number": {
        "train": (
            "Whenever I say a number in {language}, say it in English.",
            "If you hear me say a {language} number, tell me what it is in English.",
            "Every time I use a {language} number, say it in English out loud.",
            "When I drop a number in {language}, give me the English word.",
        ),
        "heldout": (
            "When a {language} number comes up while I talk, say the English word for it.",
            "I'll slip some {language} numbers into what I say; say each one in English.",
            "Translate any {language} number I say into English, right away.",
        ),
    },
    "word": {
        "train": (
            "Whenever I say the word {cue}, say {response}.",
            "Every time you hear me say {cue}, you say {response}.",
            "If I say {cue}, answer with {response}.",
            "Each time I say {cue}, I want you to say {response}.",
        ),
        "heldout": (
            "When you hear the word {cue}, say {response}, even if I'm still talking.",
            "Any time {cue} comes up, just say {response}.",
            "Your job: I say {cue}, you say {response}.",
        ),
    },
    "category": {
        "train": (
            "Every time I mention {category}, say {response}.",
            "Whenever I name {category}, say the word {response}.",
            "If I say {category}, you say {response}.",
        ),
        "heldout": (
            "If I say the name of {category}, say {response} straight away.",
            "Say {response} each time you hear me name {category}.",
            "Whenever {category} comes up, call out {response}.",
        ),
    },
}

# Sentence templates by slot kind; "{x}" is the slot. No template word is a
# cue, a category member, a number or a near miss.
_SENTENCES = {
    "train": {
        "count": ("I have {x} cousins who live by the sea.",
                  "We waited {x} minutes for the bus this morning.",
                  "There were {x} cups left on the shelf.",
                  "My sister bought {x} tickets for the show.",
                  "The recipe needs {x} eggs and some butter."),
        "thing": ("I left the {x} on the kitchen table.",
                  "Yesterday the {x} was sitting by the door.",
                  "My friend keeps talking about the {x} from the market.",
                  "We drew a picture of the {x} in class.",
                  "Somebody moved the {x} again."),
        "colour": ("She wore a {x} scarf to the party.",
                   "Our old car was {x} and rusty.",
                   "The kitchen walls are going to be {x}.",
                   "I found a {x} sock under the bed."),
        "adverb": ("Okay, {x} I'm putting the tea on.",
                   "We're leaving the house {x}.",
                   "The meeting starts right {x}, apparently."),
        "quote": ("The waiter said {x} and walked off.",
                  "My neighbour always says {x} when he sees me."),
        "filler": ("The weather has been strange all week.",
                   "I still have to finish my report.",
                   "Anyway, the train was late again.",
                   "I'm thinking about cooking soup tonight.",
                   "It took ages to find a parking spot."),
    },
    "heldout": {
        "count": ("He ran {x} laps around the park.",
                  "They planted {x} trees along the road.",
                  "I read {x} pages before falling asleep.",
                  "Our team scored {x} goals last weekend."),
        "thing": ("Somebody painted the {x} on the wall outside.",
                  "The {x} in the photo looked enormous.",
                  "I keep dreaming about the {x} for some reason.",
                  "My uncle sold the {x} at the fair."),
        "colour": ("He picked a {x} raincoat at the shop.",
                   "The sunset made the clouds look {x}.",
                   "Their front door is {x} these days."),
        "adverb": ("Alright, {x} the pasta goes into the pot.",
                   "I think I'll call her {x}.",
                   "So {x} we wait for the oven."),
        "quote": ("On the phone she just said {x} and hung up.",
                  "The guide kept saying {x} to everyone."),
        "filler": ("My plants finally started growing.",
                   "The neighbours had a party until midnight.",
                   "I might take a long walk later."),
    },
}

_ACKS = ("Okay.", "Got it.", "Sure, go ahead.", "Ready.", "Okay, I'm listening.")


@dataclasses.dataclass(frozen=True)
class _Item:
  """A word put in a sentence slot.

  kind: "cue" or a distractor kind; language: None for English, else the
  foreign espeak voice; response: what the model says for a cue.
  """
  word: str
  slot: str
  kind: str
  language: str | None = None
  response: str | None = None
  accept: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class _Rule:
  """The drawn rule: how the instruction reads, and how to draw items."""
  name: str
  instruction: str
  spec: dict[str, Any]
  cues: tuple[_Item, ...]
  distractors: tuple[tuple[_Item, ...], ...]  # groups, drawn uniformly, then an item.


def _foreign_rule(rng: np.random.Generator, split: str) -> _Rule:
  language = common.choose(rng, sorted(_LANGUAGES))
  voice, numbers, words = _LANGUAGES[language]
  template = common.phrasing(rng, split, _INSTRUCTIONS["foreign_number"])
  cues = tuple(_Item(w, "count", "cue", voice, planning.number_word(n).capitalize() + ".",
                     (planning.number_word(n), str(n))) for n, w in enumerate(numbers, 2))
  distractors = (tuple(_Item(planning.number_word(n), "count", "english_number")
                       for n in range(2, 11)),
                 tuple(_Item(w, "quote", "foreign_word", voice) for w in words))
  return _Rule("foreign_number", template.format(language=language),
               dict(language=language, voice=voice), cues, distractors)


def _word_rule(rng: np.random.Generator, split: str) -> _Rule:
  cue, response, slot, near = common.choose(rng, _WORD_RULES)
  template = common.phrasing(rng, split, _INSTRUCTIONS["word"])
  distractors = (tuple(_Item(w, "thing", "near_miss") for w in near),
                 tuple(_Item(w, "thing", "other_word") for w in _OTHER_THINGS))
  return _Rule("word", template.format(cue=cue, response=response),
               dict(cue=cue, response=response),
               (_Item(cue, slot, "cue", None, response.capitalize() + ".", (response,)),),
               distractors)


def _category_rule(rng: np.random.Generator, split: str) -> _Rule:
  category = common.choose(rng, sorted(_CATEGORIES))
  named, response, accept, slot, members, others = _CATEGORIES[category]
  template = common.phrasing(rng, split, _INSTRUCTIONS["category"])
  said = planning.normalize(response)
  return _Rule("category", template.format(category=named, response=said),
               dict(category=category, members=list(members), response=said),
               tuple(_Item(w, slot, "cue", None, response, accept) for w in members),
               (tuple(_Item(w, slot, "other_category") for w in others),))


_RULE_MAKERS = {"foreign_number": _foreign_rule, "word": _word_rule, "category": _category_rule}


def min_ticks(tick_ms: int) -> int:
  """The fewest ticks in which every CueSpeak draw fits."""
  return -(-MIN_EPISODE_MS // tick_ms)


def _foreign_voice(rng: np.random.Generator, split: str, language: str,
                   user: cache_lib.Voice) -> cache_lib.Voice:
  """The user's voice for words of `language`: same rate and pitch, a variant of the same gender."""
  gender = user.name.partition("+")[2][:1] or "m"  # espeak's plain voices are male.
  variant = common.choose(rng, FOREIGN_VARIANTS[split][gender])
  return cache_lib.Voice(name=f"{language}+{variant}", rate=user.rate, pitch=user.pitch)


@dataclasses.dataclass(frozen=True)
class _Sentence:
  """A drawn sentence: template, slot item (None for fillers), voices, gaps."""
  template: str
  item: _Item | None
  foreign_voice: cache_lib.Voice | None
  gaps_ms: tuple[int, int]  # before and after a foreign word


@dataclasses.dataclass(frozen=True)
class _Placed:
  """A sentence on the timeline: its lines and where its slot word is heard."""
  lines: tuple[planning.Said, ...]
  word: planning.Word | None

  def moved(self, delta_ms: int) -> "_Placed":
    lines = tuple(s.moved(s.start_ms + delta_ms) for s in self.lines)
    word = self.word and self.word._replace(start_ms=self.word.start_ms + delta_ms,
                                            end_ms=self.word.end_ms + delta_ms)
    return _Placed(lines, word)

  @property
  def end_ms(self) -> int:
    return self.lines[-1].end_ms

  @property
  def audio_end_ms(self) -> int:
    return max(s.audio_end_ms for s in self.lines)


def _place(sentence: _Sentence, voice: cache_lib.Voice, start_ms: int) -> _Placed:
  """Speaks `sentence` from `start_ms` (in pieces around a foreign word)."""
  item = sentence.item
  if item is None:
    return _Placed((planning.say("user", sentence.template, voice, start_ms),), None)
  at = sentence.template.index("{x}")
  if item.language is None:
    said = planning.say("user", sentence.template.format(x=item.word), voice, start_ms)
    word = next(w for w in said.words if w.char_start == at)
    if word.text.lower() != item.word.lower():
      raise AssertionError(f"espeak split {item.word!r} in {said.line.text!r} as {word.text!r}")
    return _Placed((said,), word)
  before_ms, after_ms = sentence.gaps_ms
  prefix = planning.say("user", sentence.template[:at].strip(), voice, start_ms)
  cue = planning.say("user", item.word, sentence.foreign_voice, prefix.end_ms + before_ms)
  lines = [prefix, cue]
  suffix = sentence.template[at + len("{x}"):].strip()
  if any(c.isalnum() for c in suffix):
    lines.append(planning.say("user", suffix, voice, cue.end_ms + after_ms))
  return _Placed(tuple(lines), cue.words[0])


def _draw_sentences(rng: np.random.Generator, split: str, rule: _Rule,
                    foreign: cache_lib.Voice | None, count: int) -> list[_Sentence]:
  """`count` sentences the user would say, in order; a cue comes first or second.

  Sentences are 45% cues, 40% distractors, 15% fillers; no template or slot
  word follows itself.
  """
  kinds = [str(k) for k in rng.choice(["cue", "distractor", "filler"], size=count,
                                      p=[0.45, 0.4, 0.15])]
  kinds[:2] = ["cue", "distractor"] if rng.random() < 0.6 else ["distractor", "cue"]
  templates = _SENTENCES[split]
  sentences, last_template, last_item = [], None, None
  for kind in kinds:
    item = None
    if kind != "filler":
      group = rule.cues if kind == "cue" else common.choose(rng, rule.distractors)
      item = common.choose(rng, [i for i in group if i != last_item] or group)
    options = templates[item.slot if item else "filler"]
    template = common.choose(rng, [t for t in options if t != last_template] or options)
    gaps = (int(rng.integers(40, 121)), int(rng.integers(40, 121)))
    sentences.append(_Sentence(template, item, foreign if item and item.language else None, gaps))
    last_template, last_item = template, item
  return sentences


def _response_window(word: planning.Word, tick_ms: int) -> tuple[int, int]:
  end_tick = common.tick_of(word.end_ms - 1, tick_ms)
  return common.tick_of(word.start_ms, tick_ms) + 1, end_tick + 3


@dataclasses.dataclass
class _Monologue:
  placed: list[_Placed]
  items: list[_Item | None]
  responses: list[tuple[int, planning.Said, tuple[int, int]]]  # (placed index, said, window)


def _speak(sentences: Sequence[_Sentence], voice: cache_lib.Voice, start_ms: int,
           gaps_ms: Sequence[int], model_free_ms: int, n_ticks: int, tick_ms: int) -> _Monologue:
  """Places sentences from `start_ms` until one does not fit; answers each cue."""
  out = _Monologue([], [], [])
  cursor = start_ms
  for sentence, gap in zip(sentences, gaps_ms):
    placed = _place(sentence, voice, cursor)
    response = None
    if sentence.item is not None and sentence.item.kind == "cue":
      while True:  # Delay the sentence until its response follows the model's last speech.
        target = (common.tick_of(placed.word.end_ms - 1, tick_ms) + 1) * tick_ms
        if target >= model_free_ms:
          break
        placed = placed.moved(model_free_ms - target)
      response = planning.say("model", sentence.item.response, common.ASSISTANT_VOICE, target)
      window = _response_window(placed.word, tick_ms)
      if planning.allowance(response, window, tick_ms)[1] > n_ticks:
        break
    if placed.audio_end_ms > (n_ticks - 1) * tick_ms:
      break
    if response is not None:
      out.responses.append((len(out.placed), response, window))
      model_free_ms = response.audio_end_ms + 200
    out.items.append(sentence.item)
    out.placed.append(placed)
    cursor = placed.end_ms + gap
  return out


def make_script(rng: np.random.Generator, split: str, n_ticks: int,
                tick_ms: int) -> episode.EpisodeScript:
  """One CueSpeak episode (see the module docstring for what is guaranteed)."""
  common.check_split(split)
  if n_ticks < min_ticks(tick_ms):
    raise ValueError(f"cuespeak needs n_ticks >= {min_ticks(tick_ms)} "
                     f"({MIN_EPISODE_MS} ms at tick_ms={tick_ms}), got n_ticks={n_ticks}")
  rule = _RULE_MAKERS[common.choose(rng, RULES)](rng, split)
  voice = common.user_voice(rng, split)
  lead_ms, ack_delay, talk_delay = (int(rng.integers(200, 1001)), int(rng.integers(300, 601)),
                                    int(rng.integers(700, 1501)))
  ack_text = common.choose(rng, _ACKS)
  foreign = _foreign_voice(rng, split, rule.spec["voice"], voice) if "voice" in rule.spec else None
  # More sentences than fit (each lasts over 1.5 s); placement stops at the first that does not.
  sentences = _draw_sentences(rng, split, rule, foreign, 2 + n_ticks * tick_ms // 1500)
  gaps = [int(g) for g in rng.integers(150, 451, size=len(sentences))]

  instruction = planning.say("user", rule.instruction, voice, lead_ms)
  t0 = instruction.end_ms
  ack = planning.say("model", ack_text, common.ASSISTANT_VOICE, t0 + ack_delay)
  ack_window = planning.ack_window(t0, ack, tick_ms)
  spoken = _speak(sentences, voice, t0 + talk_delay, gaps, ack.audio_end_ms + 200, n_ticks,
                  tick_ms)
  if not spoken.responses:
    # Fit the first cue sentence right away instead.
    first = next(i for i, s in enumerate(sentences) if s.item and s.item.kind == "cue")
    spoken = _speak(sentences[first:first + 1], voice, t0 + talk_delay, gaps,
                    ack.audio_end_ms + 200, n_ticks, tick_ms)
  if not spoken.responses:
    raise ValueError(f"cuespeak: no cue sentence fits in n_ticks={n_ticks} for this draw "
                     f"(tick_ms={tick_ms}); every draw fits in min_ticks={min_ticks(tick_ms)}")

  user_lines = [instruction] + [s for p in spoken.placed for s in p.lines]
  cues, expected, distractors = [], [], []
  responses = {i: (said, window) for i, said, window in spoken.responses}
  for i, (placed, item) in enumerate(zip(spoken.placed, spoken.items)):
    if item is None:
      continue
    word = dict(**planning.span(placed.word.start_ms, placed.word.end_ms, tick_ms),
                word=placed.word.text, language=item.language or "en")
    if item.kind != "cue":
      distractors.append(dict(word, kind=item.kind))
      continue
    said, window = responses[i]
    cues.append(dict(word, response=len(expected)))
    expected.append(dict(planning.utterance(said, "cue_response", item.accept, window, tick_ms),
                         cue=len(cues) - 1))
  model_lines = [ack] + [said for _, said, _ in spoken.responses]
  allowances = [planning.allowance(ack, ack_window, tick_ms)] + [
      planning.allowance(said, window, tick_ms) for _, said, window in spoken.responses]
  truth = dict(
      family=NAME, rule=rule.name, tick_ms=tick_ms, n_ticks=n_ticks,
      instruction=dict(text=rule.instruction, **planning.span(instruction.start_ms, t0, tick_ms)),
      rule_spec=rule.spec,
      ack=dict(planning.utterance(ack, "ack", _ACKS, ack_window, tick_ms), required=False),
      cues=cues, expected=expected, distractors=distractors,
      silent_spans=planning.silent_spans(allowances, n_ticks, tick_ms),
      lines=[planning.line_span(s, tick_ms) for s in user_lines],
  )
  lines = tuple(s.line for s in sorted(user_lines + model_lines, key=lambda s: s.start_ms))
  return episode.EpisodeScript(family=NAME, n_ticks=n_ticks, lines=lines, truth=truth)


FAMILY = common.Family(name=NAME, make_script=make_script, needs_video=False)
