"""Turn-taking episodes, as Full-Duplex-Bench v1 / v1.5 test them.

Each episode has one sub-kind (`truth["kind"]`, drawn uniformly from `KINDS`
unless `make_script` is given `kinds`) and holds one to three exchanges of that
kind back to back (as many as fit, up to a drawn count). An exchange is a user
turn addressed to the model and the model's target behaviour around it:

- "pause": the user stops mid-sentence, once or twice, for 0.6–2 s ("What's a
  good way ... to keep basil alive ... on a windowsill?"), sometimes saying a
  filler ("um") inside the pause. The model stays silent through the pauses
  and answers only after the real end of the turn.
- "smooth": the user asks a question or finishes a statement in one go; the
  model answers promptly.
- "backchannel": the model gives a longer answer (2–3 sentences) and the user
  says "mm-hmm", "yeah", ... one to three times, each shortly after one of the
  model's clause ends. The model's answer is one line that runs through them.
- "interruption": the model starts a longer answer and the user interrupts
  it about 1–4 s in ("Wait, stop.", "Actually, wait. <another question>",
  "Sorry, just the quick answer please."). The model yields within one or
  two ticks: its line is only the first words of the answer (the cut text is
  synthesized on its own, so the heard line really ends there). After the
  interruption it answers the new question, gives the short version,
  acknowledges the stop, or (for some stops) stays quiet.
- "ignore": speech not addressed to the model. Either the user turns to
  someone else ("Hang on. Honey, did you feed the cat?", perhaps answered by
  another voice), or other people talk in the background (a TV, an
  announcement; `common.OTHER_VOICES`). Before the user's question or after
  the model's answer the model stays silent through it; background speech
  during the model's longer answer is talked through. (Background speech is
  mixed at full level: `episode.Line` has no gain.)

The model speaks with `common.ASSISTANT_VOICE`; the user keeps one voice per
episode (`common.user_voice`), other people one voice of `OTHER_VOICES`.
Questions, answers, fillers, backchannels, interruptions and distractions are
our own; user-side phrasings (and the question/answer pairs) are disjoint
between the splits, the model's own phrasings are shared.

Timing choices (all times are when speech is *heard*, in ms from the episode
start; a model line heard from tick h is produced by the model's text-out and
audio-out slots of tick h - 1, see `episode`):

- A user turn ends at the end of its last word (espeak word timings, trimmed
  to the last audible sample). The model's response is heard 200–600 ms after
  it (`planning.RESPONSE_GAP_MS`, uniform; TML reports 0.40 s on FD-bench);
  metrics accept a start 0–1200 ms after the turn end
  (`planning.RESPONSE_WINDOW_MS`).
- Yield: for an interruption that starts in tick i, the yield deadline is
  the start of tick i + 1 + k, k in {1, 2} drawn per interruption, so the
  model's speech overlaps the user's by at most 400 / 600 ms. The cut answer
  ends by the deadline but after the start of tick i + 1: the first word the
  model leaves out would have been emitted in tick i or later, when the model
  had heard the interruption begin. The cut falls at a word end 1.2–4.2 s
  into the answer (`CUT_AFTER_MS`).
- Episodes are planned with exact durations from the speech cache; the last
  sound ends at least `planning.TAIL_MS` before the episode's end so the
  model's text queue can drain (byte text at 4 text-out slots per tick runs
  close to the speech rate and can lag it by a few ticks). Episodes need
  `n_ticks * tick_ms >= MIN_MS` (75 ticks of 200 ms); shorter ones raise
  ValueError. Short episodes favour the shorter variations: a first exchange
  that does not fit is drawn again (up to 40 times).

Ground truth (`truth`, JSON-able). A "span" is a dict with `start_ms`,
`end_ms`, `start_tick` (the tick holding start_ms) and `end_tick` (the tick
holding the span's last millisecond):

  family: "turntaking"; kind: one of KINDS; tick_ms; n_ticks.
  user_turns: list of span + {
      text: what the user said to the model (its lines joined by spaces),
      role: "request" | "interruption",
      segments: list of [start_ms, end_ms] of its speech (for "pause": the
        fragments and fillers between the pauses),
      response_window_ms / response_window_ticks: [earliest, latest] start of
        the model's response (turn end + planning.RESPONSE_WINDOW_MS),
      response: index into model_utterances of the target response, or None}.
    A turn's end_ms is its turn end (FD-bench's turn-taking timestamp).
  model_utterances: list of span + {
      text, normalized (see `planning.normalize`),
      role: "answer" | "cut_answer" | "reply" (after an interruption),
      window_ms / window_ticks: [earliest, latest] start time accepted,
      full_text (cut_answer only: the answer the model had planned)}.
    start_ms is the target start; text-out carries its first word in tick
    start_tick - 1.
  silent_spans: list of span + {reason, text?}: the model must not be heard
    anywhere in [start_ms, end_ms]. reason "pause" (within a user turn),
    "interrupted" (from the yield deadline to the interruption's end),
    "side_talk" / "background" (speech not addressed to the model, from its
    start until the user addresses the model again, or 1 s after it ends).
  keep_talking_spans: list of span + {reason: "backchannel" | "background",
      text, utterance}: someone speaks while the model does; model utterance
    `utterance` must go on past end_ms (FD-bench v1.5 C_RESUME).
  interruptions: list of span + {text, type: "stop" | "redirect" | "shorten",
      utterance (the cut answer's index), response (index or None),
      yield_ticks, yield_deadline_ms, yield_deadline_tick}: no model speech may
    be heard from yield_deadline_ms (= yield_deadline_tick * tick_ms) until the
    response; the stop latency is the overlap of the cut answer and the
    interruption, the response latency is measured from end_ms.
"""

from collections.abc import Sequence
import dataclasses
import math

import numpy as np

from data_pipelines import episode
from data_pipelines import speech_cache
from data_pipelines.scenarios import common
from data_pipelines.scenarios import planning

KINDS = ("pause", "smooth", "backchannel", "interruption", "ignore")

PAUSE_MS = (600, 2000)
CUT_AFTER_MS = (1200, 4200)
IGNORE_HOLD_MS = 1000
MIN_MS = 15000
MAX_EXCHANGES = 3


# Content --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Exchange:
  """A user turn and the model's answers to it.

  parts: the turn, cut where a pause does not end it (joined by spaces).
  short: a one- or two-sentence answer; long: a longer answer, by sentence.
  """
  parts: tuple[str, ...]
  short: str
  long: tuple[str, ...]

  @property
  def question(self) -> str:
    return " ".join(self.parts)


def _x(parts, short, long) -> Exchange:
  return Exchange(tuple(parts), short, tuple(long))


EXCHANGES = {
    "train": (
        _x(("I was thinking about", "going to the coast", "this weekend. Any tips?"),
           "Check the tide times before you go, and bring a warm layer for the evening.",
           ("The coast can change quickly, so plan for both sun and wind.",
            "Bring a warm layer and a rain jacket, even if the morning looks clear.",
            "And check the tide times, because the best beach walks are at low tide.")),
        _x(("What's a good way", "to keep basil alive", "on a windowsill?"),
           "Give it as much sun as you can, and water it when the top of the soil feels dry.",
           ("Basil loves light, so the sunniest window you have is the right spot.",
            "Water it when the top of the soil feels dry, and never let the pot sit in water.",
            "Pinch off the flower buds, and it will keep growing leaves for much longer.")),
        _x(("How long should I", "boil an egg", "if I want the yolk a bit soft?"),
           "About six or seven minutes in boiling water, then straight into cold water.",
           ("For a soft yolk, lower the egg into water that is already boiling.",
            "Leave it for six or seven minutes, depending on how large the egg is.",
            "Then move it into cold water, so it stops cooking and peels more easily.")),
        _x(("Can you explain", "why the sky", "looks blue during the day?"),
           "Air scatters blue light much more than red light, so blue reaches you from every "
           "direction.",
           ("Sunlight holds every color, and it bounces off the molecules in the air.",
            "Short blue waves get scattered far more than the longer red ones.",
            "So wherever you look in the sky, you see that scattered blue light.")),
        _x(("I just adopted", "a little puppy,", "and I have no idea where to start."),
           "Congratulations! Start with a simple routine for meals, walks and sleep.",
           ("Congratulations, that's exciting news!",
            "Start with a simple routine, with meals, walks and naps at the same times each day.",
            "Take the puppy outside often, and praise it every time it gets something right.")),
        _x(("What should I", "pack for a", "two day hiking trip?"),
           "Water, snacks, a map, warm layers, a rain shell and a small first aid kit.",
           ("Start with the basics, which are water, food and a way to find your route.",
            "Add warm layers and a rain shell, since the weather in the hills can turn fast.",
            "A head torch and a small first aid kit are light and worth carrying.")),
        _x(("Is it better to", "stretch before", "or after a run?"),
           "Do a gentle warm up before, and save the longer stretches for after.",
           ("Before a run, gentle movement like leg swings and easy jogging works best.",
            "Long, slow stretches are better after the run, when your muscles are warm.",
            "That way you warm up safely and still work on your flexibility.")),
        _x(("How do I", "stop my phone", "from draining its battery so fast?"),
           "Turn the screen brightness down, and check which apps use the most power.",
           ("First, open the battery settings and see which apps use the most power.",
            "Turning down the brightness and shortening the screen timeout helps a lot.",
            "You can also switch off location access for apps that do not need it.")),
        _x(("I keep waking up", "at three in the morning", "and I can't fall back asleep."),
           "That sounds tiring. Keep the room cool and dark, and stay off your phone when you "
           "wake.",
           ("That sounds really tiring, and it's more common than you might think.",
            "Keep your room cool and dark, and try not to check your phone when you wake up.",
            "If you're still awake after twenty minutes, get up and read something calm.")),
        _x(("What's the easiest way", "to learn a few words", "of Italian before my trip?"),
           "Learn the greetings and polite phrases first, and say them out loud every day.",
           ("Start with greetings, please and thank you, and how to ask for the bill.",
            "Practice them out loud for ten minutes a day, rather than once a week.",
            "A few phrases you will really use are worth more than a long word list.")),
        _x(("Do you think", "I should paint the kitchen", "yellow or light gray?"),
           "Light gray is the safe choice, but yellow will make the room feel warm and bright.",
           ("Both can work, so it depends on how much light the kitchen gets.",
            "A pale yellow makes a dark room feel warm and cheerful.",
            "Light gray is calmer, and it goes with almost any cupboard color.")),
        _x(("How often", "should I water", "a cactus?"),
           "Only every two or three weeks, and even less in winter.",
           ("Less often than you might think, because a cactus stores its own water.",
            "In spring and summer, water it every two or three weeks.",
            "In winter, once a month is usually enough.")),
        _x(("I finally finished", "that huge novel", "I started last summer."),
           "Nice work! Did the ending live up to the rest of it?",
           ("Well done, finishing a book that long takes real patience.",
            "It must feel good to finally close it.",
            "Did the ending live up to everything that came before?")),
        _x(("What's a quick dinner", "I can make with", "rice and a couple of eggs?"),
           "Fried rice: scramble the eggs, then toss in the rice with soy sauce and any "
           "vegetables you have.",
           ("Egg fried rice is quick, cheap and really tasty.",
            "Scramble the eggs in a hot pan, then add the rice and a splash of soy sauce.",
            "Throw in any vegetables you have, like peas, onions or spinach.")),
        _x(("Why do cats", "knock things", "off the table?"),
           "Mostly curiosity and play, and sometimes because it gets your attention.",
           ("Cats are hunters, and pushing small things around is a kind of practice.",
            "They are also curious about what happens when something falls.",
            "And if it makes you jump up, they learn that it gets your attention.")),
        _x(("How can I", "get better at", "remembering people's names?"),
           "Say the name back as soon as you hear it, and link it to something about the person.",
           ("The trick is to do something with the name the moment you hear it.",
            "Say it back in your reply, like nice to meet you, Maria.",
            "Then link it to something about the person, such as where you met them.")),
        _x(("Should I", "take the train or", "drive to the city tomorrow?"),
           "The train is usually less stressful, and you won't have to find parking.",
           ("If the train goes near where you need to be, I would take it.",
            "You can read or rest on the way, and you won't have to hunt for parking.",
            "Driving only makes sense if you are carrying a lot or going somewhere remote.")),
        _x(("My sourdough", "keeps coming out", "flat and dense."),
           "Your starter may be weak. Feed it until it doubles within a few hours before you "
           "bake.",
           ("A flat loaf usually means the starter is not strong enough yet.",
            "Feed it daily until it doubles in size within a few hours.",
            "Also let the dough rise somewhere warm, and give it more time than the recipe "
            "says.")),
        _x(("What's the best way", "to clean", "a cast iron pan?"),
           "Rinse it with hot water and a brush, dry it on the stove, and wipe on a little oil.",
           ("Clean it while it's still warm, with hot water and a stiff brush.",
            "Dry it completely on the stove, so it does not rust.",
            "Then wipe a thin layer of oil over it before you put it away.")),
        _x(("Can you give me", "a tip for staying focused", "while working from home?"),
           "Work in short blocks with a timer, and keep your phone in another room.",
           ("Try working in short blocks, say twenty five minutes, with a timer running.",
            "Keep your phone in another room, so it can't pull you away.",
            "And take a real break between blocks, away from the screen.")),
        _x(("How do I", "politely say no", "to extra work?"),
           "Thank them, explain what you're already working on, and offer a later time if you "
           "can.",
           ("Start by thanking them for thinking of you.",
            "Then explain what you are already working on, and why you can't take more right "
            "now.",
            "If you can, offer a later time or suggest someone else who might help.")),
        _x(("Why does bread", "go stale", "so quickly?"),
           "Its starch slowly hardens and loses water, which makes it firm and dry.",
           ("Bread goes stale because its starch slowly changes after baking.",
            "The starch hardens and pushes out water, so the crumb turns firm and dry.",
            "Keeping it in a bread box or the freezer slows that down.")),
        _x(("I'm thinking about", "taking up running,", "but I get out of breath really fast."),
           "Start with intervals, like one minute running and two minutes walking.",
           ("That is completely normal when you start, so don't worry.",
            "Begin with intervals, like one minute of running and two minutes of walking.",
            "Run slowly enough that you could still talk, and add a little more each week.")),
        _x(("What's a fun", "board game", "for four people?"),
           "A cooperative game is great for four, because everyone plays together against the "
           "board.",
           ("For four people, a cooperative game can be a lot of fun.",
            "Everyone works together against the board, so nobody feels left out.",
            "If you prefer competition, a simple trading game is easy to learn.")),
        _x(("How do I", "keep my glasses", "from fogging up?"),
           "Wash the lenses with a drop of dish soap, and let them dry without wiping.",
           ("Fog forms when warm breath hits the cool lenses.",
            "Washing them with a drop of dish soap leaves a thin film that stops it.",
            "If you wear a mask, press it firmly over the bridge of your nose.")),
        _x(("I want to", "save a bit more money", "each month."),
           "Set up an automatic transfer to savings on payday, so you never see that money.",
           ("A good first step is to pay yourself first.",
            "Set up an automatic transfer to savings on the day you get paid.",
            "Then look at your subscriptions, since small monthly costs add up fast.")),
    ),
    "heldout": (
        _x(("What's a nice way", "to spend", "a rainy Sunday?"),
           "Make a big pot of soup, put on a film, and read a good book.",
           ("A rainy Sunday is perfect for slowing down.",
            "You could cook something that takes hours, like a stew or fresh bread.",
            "Then settle in with a film or a book while the rain does its thing.")),
        _x(("How do I", "get rid of", "fruit flies in the kitchen?"),
           "Put out a small bowl of vinegar with a drop of dish soap, and clear away ripe fruit.",
           ("First, remove whatever they are feeding on, like ripe fruit or the compost bin.",
            "Then set a trap with a little vinegar and a drop of dish soap in a bowl.",
            "Empty the trap every day, and they should be gone within a week.")),
        _x(("Is it okay", "to give my dog", "a bit of cheese?"),
           "A small piece now and then is fine for most dogs, but not too much.",
           ("For most dogs, a small piece of cheese now and then is fine.",
            "It is high in fat, so keep it as an occasional treat.",
            "Some dogs can't digest milk well, so watch for an upset stomach.")),
        _x(("Why do onions", "make you cry", "when you cut them?"),
           "Cutting them releases a gas that stings your eyes, so they make tears to wash it "
           "away.",
           ("When you cut an onion, you break open its cells.",
            "That releases a gas which stings your eyes when it reaches them.",
            "Your eyes make tears to wash it away, which is why you cry.")),
        _x(("How can I", "make my small apartment", "feel bigger?"),
           "Use light colors, a large mirror, and furniture that leaves the floor visible.",
           ("Light colors on the walls make any room feel more open.",
            "A large mirror opposite a window doubles the light.",
            "And furniture on legs lets you see more floor, which makes the space feel bigger.")),
        _x(("I've got a job interview", "on Friday,", "and I'm really nervous."),
           "That's exciting! Practice your answers out loud, and plan your route the day before.",
           ("That's exciting, and being nervous just shows you care.",
            "Practice your answers out loud, especially the story of your last job.",
            "Plan your route the day before, so you can arrive early and calm.")),
        _x(("What's the trick", "to keeping", "a cut avocado from turning brown?"),
           "Leave the stone in, brush the flesh with lemon juice, and wrap it tightly.",
           ("Air is what turns it brown, so the goal is to keep air away.",
            "Brush the cut side with a little lemon or lime juice.",
            "Then wrap it tightly and keep it in the fridge.")),
        _x(("How many hours", "of sleep", "does an adult really need?"),
           "Most adults need seven to nine hours a night.",
           ("Most adults do best with seven to nine hours a night.",
            "A few people need less, but far fewer than think so.",
            "Going to bed at the same time every night matters almost as much.")),
        _x(("Can you suggest", "a simple stretch", "for a stiff neck?"),
           "Slowly tilt your ear toward your shoulder, hold for twenty seconds, then switch sides.",
           ("Sit up tall and let your shoulders drop.",
            "Slowly tilt your ear toward one shoulder and hold it for twenty seconds.",
            "Then switch sides, and stop if anything feels sharp.")),
        _x(("I'd like to", "start a little vegetable garden", "on my balcony."),
           "Great idea! Start with easy plants like herbs, lettuce and cherry tomatoes.",
           ("That's a great idea, and balconies work better than people think.",
            "Start with easy plants like herbs, lettuce and cherry tomatoes.",
            "Use big pots with drainage holes, and check how many hours of sun you get.")),
        _x(("What's the best time", "of day to", "water a lawn?"),
           "Early in the morning, before the sun gets strong.",
           ("Early morning is the best time to water a lawn.",
            "The air is cool, so less water is lost before it soaks in.",
            "Watering at night leaves the grass damp for hours, which invites disease.")),
        _x(("How do I", "stop my coffee", "from tasting so bitter?"),
           "Use a coarser grind, slightly cooler water, or a shorter brewing time.",
           ("Bitter coffee usually means the grounds were brewed too hard.",
            "Try a coarser grind, or water just off the boil rather than boiling.",
            "A shorter brewing time helps too.")),
    ),
}

# Said by the user inside a pause.
FILLERS = {"train": ("um", "uh", "hmm"), "heldout": ("er", "you know", "let me see")}
BACKCHANNELS = {
    "train": ("Mm-hmm.", "Yeah.", "Right.", "Okay.", "Uh-huh.", "I see."),
    "heldout": ("Mhm.", "Sure.", "Got it.", "Yep.", "Oh, okay."),
}
STOPS = {
    "train": ("Wait, stop.", "Hold on, hold on.", "Okay, okay, I get it.",
              "Sorry, can you stop for a second?"),
    "heldout": ("Hang on, please stop.", "Whoa, wait a moment.", "Let me stop you there.",
                "Alright, that's enough, thanks."),
}
# Said before another question from the same split.
REDIRECTS = {
    "train": ("Actually, wait.", "Sorry to cut in.", "Hmm, never mind that."),
    "heldout": ("Hold on, different question.", "Oh, before I forget.", "Let me interrupt you."),
}
SHORTEN = {
    "train": ("Wait, can you give me the short version?", "Sorry, just the quick answer please."),
    "heldout": ("Hold on, can you sum that up?", "In one sentence, please?"),
}
# (said to someone else, their reply or None).
SIDE_TALK = {
    "train": (("Hang on. Honey, did you feed the cat?", "Yes, this morning."),
              ("One sec. Sam, can you turn the music down?", "Sure, sorry."),
              ("Wait a moment. Mom, I'll call you back in five minutes.", "Okay, talk soon."),
              ("Just a second. Yes, the package goes on the kitchen table.", None)),
    "heldout": (("Hold on. Alex, where did you put the car keys?", "On the hook by the door."),
                ("Sorry, one moment. Can you close the window, please?", "Sure."),
                ("Give me a second. Don't touch the oven, it's still hot.", "Okay, okay."),
                ("Hang on. Kids, shoes on, we're leaving soon.", None)),
}
# Said to the model when the user turns back to it.
RETURNS = {"train": ("Sorry about that.", "Okay, I'm back."),
           "heldout": ("Right, where were we?", "Sorry, I'm here.")}
BACKGROUND = {
    "train": ("And now, the weather for the weekend.", "Table four is ready to order.",
              "Attention shoppers, the store closes in ten minutes.",
              "Did you see the game last night?", "Next stop, Central Station."),
    "heldout": ("Coming up after the break, the latest traffic news.",
                "Excuse me, is this seat taken?",
                "Flight two forty is now boarding at gate nine.",
                "I told him we would be there by seven."),
}
# The model's own phrasings (shared by both splits).
STOP_REPLIES = ("Sure.", "Okay, I'll stop there.", "Of course, go ahead.", None)
SHORT_LEADS = ("Sure. ", "Of course. ", "Okay. ", "")


# Exchange planners ----------------------------------------------------------


class _Plan(planning.Timeline):
  """A timeline plus the turn-taking ground truth collected so far."""

  def __init__(self, tick_ms: int, user: speech_cache.Voice, other: speech_cache.Voice):
    super().__init__(tick_ms)
    self.user, self.other = user, other
    self.user_turns: list[dict] = []
    self.model_utterances: list[dict] = []
    self.silent_spans: list[dict] = []
    self.keep_talking_spans: list[dict] = []
    self.interruptions: list[dict] = []

  def user_turn(self, segments: Sequence[planning.Heard], role: str) -> dict:
    end = segments[-1].speech_end_ms
    window = [end + planning.RESPONSE_WINDOW_MS[0], end + planning.RESPONSE_WINDOW_MS[1]]
    turn = {**self.span(segments[0].line.start_ms, end),
            "text": " ".join(s.line.text for s in segments), "role": role,
            "segments": [[s.line.start_ms, s.speech_end_ms] for s in segments],
            "response_window_ms": window,
            "response_window_ticks": [common.tick_of(w, self.tick_ms) for w in window],
            "response": None}
    self.user_turns.append(turn)
    return turn

  def response_start(self, rng: np.random.Generator, turn: dict, not_before_ms: int = 0) -> int:
    """planning.RESPONSE_GAP_MS after `turn` ends, and not before not_before_ms."""
    gap = planning.uniform_ms(rng, planning.RESPONSE_GAP_MS)
    return max(turn["end_ms"] + gap, not_before_ms)

  def respond(self, turn: dict, text: str, role: str, start_ms: int, **extra) -> planning.Heard:
    """The model says `text` from start_ms in response to `turn`."""
    said = self.say("model", text, start_ms, common.ASSISTANT_VOICE)
    turn["response"] = len(self.model_utterances)
    self.model_utterances.append(self.utterance(said, role, turn["response_window_ms"], **extra))
    return said

  def ask(self, start_ms: int, text: str) -> dict:
    """The user says `text` to the model in one go; returns the turn."""
    return self.user_turn([self.say("user", text, start_ms, self.user)], "request")

  def answer(self, rng: np.random.Generator, turn: dict, text: str) -> planning.Heard:
    """The model answers `turn` with `text`, planning.RESPONSE_GAP_MS after it ends."""
    return self.respond(turn, text, "answer", self.response_start(rng, turn))

  def script(self, n_ticks: int, kind: str) -> episode.EpisodeScript:
    truth = {"family": FAMILY.name, "kind": kind, "tick_ms": self.tick_ms, "n_ticks": n_ticks,
             "user_turns": self.user_turns, "model_utterances": self.model_utterances,
             "silent_spans": self.silent_spans, "keep_talking_spans": self.keep_talking_spans,
             "interruptions": self.interruptions}
    return episode.EpisodeScript(family=FAMILY.name, n_ticks=n_ticks,
                                 lines=tuple(sorted(self.lines, key=lambda l: l.start_ms)),
                                 truth=truth)


def _pause(rng: np.random.Generator, split: str, plan: _Plan, start_ms: int) -> None:
  item = common.phrasing(rng, split, EXCHANGES)
  n_cuts = int(rng.integers(1, min(2, len(item.parts) - 1) + 1))
  cuts = set(int(c) + 1 for c in rng.choice(len(item.parts) - 1, n_cuts, replace=False))
  fragments, current = [], []
  for i, part in enumerate(item.parts):
    if i in cuts:
      fragments.append(" ".join(current))
      current = []
    current.append(part)
  fragments.append(" ".join(current))
  segments, t = [], start_ms
  for i, fragment in enumerate(fragments):
    said = plan.say("user", fragment, t, plan.user)
    segments.append(said)
    if i == len(fragments) - 1:
      break
    pause_start = said.speech_end_ms
    t = pause_start + planning.uniform_ms(rng, PAUSE_MS)
    if rng.random() < 0.5:
      filler = plan.say("user", common.phrasing(rng, split, FILLERS),
                        pause_start + planning.uniform_ms(rng, (250, 600)), plan.user)
      segments.append(filler)
      t = max(t, filler.end_ms + planning.uniform_ms(rng, (300, 900)))
    plan.silent_spans.append({**plan.span(pause_start, t), "reason": "pause"})
  turn = plan.user_turn(segments, "request")
  plan.answer(rng, turn, item.short)


def _smooth(rng: np.random.Generator, split: str, plan: _Plan, start_ms: int) -> None:
  item = common.phrasing(rng, split, EXCHANGES)
  turn = plan.ask(start_ms, item.question)
  plan.answer(rng, turn, item.short)


def _long_answer(rng: np.random.Generator, split: str, plan: _Plan,
                 start_ms: int) -> planning.Heard:
  """A question and a 2–3 sentence answer to it; returns the answer."""
  item = common.phrasing(rng, split, EXCHANGES)
  turn = plan.ask(start_ms, item.question)
  n = int(rng.integers(2, len(item.long) + 1))
  return plan.answer(rng, turn, " ".join(item.long[:n]))


def _overlaps(rng: np.random.Generator, plan: _Plan, answer: planning.Heard,
              texts: Sequence[str], voice: speech_cache.Voice, speaker: str, reason: str,
              n: int) -> None:
  """Up to n lines said over `answer`, each just after one of its clause ends.

  Each starts 0–300 ms after a clause end, at least 600 ms into the answer,
  ends at least 400 ms before it ends, and keeps 800 ms from the others.
  Raises planning.NoFit when none fits.
  """
  text = answer.line.text
  ends = [end for char_end, _, end in answer.words[:-1]
          if char_end < len(text) and text[char_end] in ",.;:!?"]
  taken: list[tuple[int, int]] = []
  index = len(plan.model_utterances) - 1
  for k in rng.permutation(len(ends)):
    if len(taken) == n:
      break
    start = ends[int(k)] + planning.uniform_ms(rng, (0, 300))
    line = common.choose(rng, texts)
    duration = planning.samples_to_ms(len(planning.synthesize(line, voice).audio))
    if (start < answer.line.start_ms + 600 or start + duration > answer.end_ms - 400
        or any(start < e + 800 and s < start + duration + 800 for s, e in taken)):
      continue
    said = plan.say(speaker, line, start, voice)
    taken.append((start, said.end_ms))
    plan.keep_talking_spans.append({**plan.span(start, said.speech_end_ms), "reason": reason,
                                    "text": line, "utterance": index})
  if not taken:
    raise planning.NoFit
  plan.keep_talking_spans.sort(key=lambda s: s["start_ms"])


def _backchannel(rng: np.random.Generator, split: str, plan: _Plan, start_ms: int) -> None:
  answer = _long_answer(rng, split, plan, start_ms)
  _overlaps(rng, plan, answer, BACKCHANNELS[split], plan.user, "user", "backchannel",
            int(rng.integers(1, 4)))


def _interruption(rng: np.random.Generator, split: str, plan: _Plan, start_ms: int) -> None:
  """The model's longer answer is cut by an interruption (see the module docstring).

  The cut comes first: a word k of the full answer ending CUT_AFTER_MS into it;
  the answer's first k words, said on their own, end at P. The interruption
  then starts in a tick i with (i + 1) * tick <= P <= (i + 1 + yield_ticks) *
  tick: the model has heard it start before the tick in which it would have
  begun its next word, and stops by the yield deadline.
  """
  tick = plan.tick_ms
  item = common.phrasing(rng, split, EXCHANGES)
  turn = plan.ask(start_ms, item.question)
  answer_start = plan.response_start(rng, turn)
  full = " ".join(item.long)
  timings = planning.synthesize(full, common.ASSISTANT_VOICE).words
  candidates = [k for k in range(1, len(timings) - 2)
                if CUT_AFTER_MS[0] <= planning.samples_to_ms(timings[k - 1].end_sample)
                <= CUT_AFTER_MS[1]]
  if not candidates:
    raise planning.NoFit
  cut = full[:timings[common.choose(rng, candidates) - 1].char_end]
  cut_audio = planning.synthesize(cut, common.ASSISTANT_VOICE).audio
  stop = answer_start + planning.samples_to_ms(len(cut_audio))
  yield_ticks = int(rng.integers(1, 3))
  first = max(math.ceil(stop / tick) - 1 - yield_ticks, common.tick_of(answer_start + 800, tick))
  last = stop // tick - 1
  if first > last:
    raise planning.NoFit
  begin_tick = int(rng.integers(first, last + 1))
  begin = planning.uniform_ms(rng, (max(begin_tick * tick, answer_start + 800),
                                    (begin_tick + 1) * tick - 1))
  deadline = (begin_tick + 1 + yield_ticks) * tick
  plan.respond(turn, cut, "cut_answer", answer_start, full_text=full)
  kind = common.choose(rng, ("stop", "redirect", "shorten"))
  if kind == "stop":
    words, reply = common.phrasing(rng, split, STOPS), common.choose(rng, STOP_REPLIES)
  elif kind == "redirect":
    other = common.phrasing(rng, split, EXCHANGES)
    while other == item:
      other = common.phrasing(rng, split, EXCHANGES)
    words = common.phrasing(rng, split, REDIRECTS) + " " + other.question
    reply = other.short
  else:
    words = common.phrasing(rng, split, SHORTEN)
    reply = common.choose(rng, SHORT_LEADS) + item.short
  said = plan.say("user", words, begin, plan.user)
  interruption = plan.user_turn([said], "interruption")
  plan.silent_spans.append({**plan.span(deadline, interruption["end_ms"]),
                            "reason": "interrupted"})
  if reply is not None:
    plan.respond(interruption, reply, "reply",
                 plan.response_start(rng, interruption, deadline + plan.tick_ms))
  plan.interruptions.append({
      **plan.span(begin, interruption["end_ms"]), "text": words, "type": kind,
      "utterance": turn["response"], "response": interruption["response"],
      "yield_ticks": yield_ticks, "yield_deadline_ms": deadline,
      "yield_deadline_tick": deadline // plan.tick_ms})


def _distraction(rng: np.random.Generator, split: str, plan: _Plan, start_ms: int,
                 variant: str) -> tuple[str, int]:
  """Speech not addressed to the model from start_ms; returns (its text, its end)."""
  if variant == "side_talk":
    words, reply = common.phrasing(rng, split, SIDE_TALK)
    said = plan.say("user", words, start_ms, plan.user)
    if reply is not None:
      said = plan.say("other", reply, said.end_ms + planning.uniform_ms(rng, (200, 700)),
                      plan.other)
      words += " / " + reply
  else:
    words = common.phrasing(rng, split, BACKGROUND)
    said = plan.say("other", words, start_ms, plan.other)
  return words, said.speech_end_ms


def _ignore(rng: np.random.Generator, split: str, plan: _Plan, start_ms: int) -> None:
  item = common.phrasing(rng, split, EXCHANGES)
  variant = common.choose(rng, ("side_talk", "background"))
  places = ("before", "after", "during") if variant == "background" else ("before", "after")
  where = common.choose(rng, places)
  if where == "before":
    words, end = _distraction(rng, split, plan, start_ms, variant)
    ask_at = end + planning.uniform_ms(rng, (800, 1800))
    plan.silent_spans.append({**plan.span(start_ms, ask_at), "reason": variant, "text": words})
    question = item.question
    if variant == "side_talk":
      question = common.phrasing(rng, split, RETURNS) + " " + question
    turn = plan.ask(ask_at, question)
    plan.answer(rng, turn, item.short)
  elif where == "after":
    turn = plan.ask(start_ms, item.question)
    answer = plan.answer(rng, turn, item.short)
    begin = answer.end_ms + planning.uniform_ms(rng, (600, 1500))
    words, end = _distraction(rng, split, plan, begin, variant)
    plan.silent_spans.append({**plan.span(begin, end + IGNORE_HOLD_MS), "reason": variant,
                              "text": words})
    plan.hold(end + IGNORE_HOLD_MS)
  else:
    answer = _long_answer(rng, split, plan, start_ms)
    _overlaps(rng, plan, answer, BACKGROUND[split], plan.other, "other", "background", 1)


_PLANNERS = {"pause": _pause, "smooth": _smooth, "backchannel": _backchannel,
             "interruption": _interruption, "ignore": _ignore}


def make_script(rng: np.random.Generator, split: str, n_ticks: int, tick_ms: int,
                kinds: Sequence[str] = KINDS) -> episode.EpisodeScript:
  """One turn-taking episode of a kind drawn from `kinds` (see the module docstring)."""
  common.check_split(split)
  unknown = set(kinds) - set(KINDS)
  if unknown or not kinds:
    raise ValueError(f"kinds must be a non-empty subset of {KINDS}, got {tuple(kinds)}")
  kind = common.choose(rng, tuple(kinds))
  user = common.user_voice(rng, split)
  other = common.user_voice(rng, split, common.OTHER_VOICES)
  plan = planning.fill_episode(rng, lambda: _Plan(tick_ms, user, other),
                               lambda r, p, t: _PLANNERS[kind](r, split, p, t),
                               n_ticks, tick_ms, MIN_MS, MAX_EXCHANGES, f"turn-taking {kind!r}")
  return plan.script(n_ticks, kind)


FAMILY = common.Family(name="turntaking", make_script=make_script, needs_video=False)
