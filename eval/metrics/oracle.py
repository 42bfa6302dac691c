"""The oracle output of a rendered episode: exactly what the target model lines say."""

from data_pipelines import episode as episode_lib
from data_pipelines import speech_cache
from eval.metrics import output as output_lib


def oracle_output(ep: episode_lib.Episode,
                  cache: speech_cache.SpeechCache) -> output_lib.ModelOutput:
  """The `ModelOutput` of a model that says its target lines exactly (a ceiling for metrics).

  Each script line of speaker "model" is one utterance, heard from its start to
  the end of its last word; its words carry the line's text as the text-out
  channel does (each word with the punctuation and spaces up to the next
  word), timed by espeak's word positions from `cache`, the cache the episode
  was rendered with. delegate_ms holds tick * tick_ms of each `<delegate>`
  control of the script.
  """
  tick_ms = ep.layout.tick_ms
  utterances = []
  for line in sorted((l for l in ep.script.lines if l.speaker == "model"),
                     key=lambda l: l.start_ms):
    spoken = cache.synthesize(line.text, line.voice)
    per_ms = spoken.sample_rate / 1000
    words = []
    for i, word in enumerate(spoken.words):
      stop = spoken.words[i + 1].char_start if i + 1 < len(spoken.words) else len(line.text)
      first = 0 if i == 0 else word.char_start
      words.append(output_lib.Word(line.text[first:stop].strip(),
                                   line.start_ms + word.start_sample / per_ms,
                                   line.start_ms + word.end_sample / per_ms))
    utterances.append(output_lib.Utterance(line.start_ms, words[-1].end_ms, tuple(words)))
  return output_lib.ModelOutput(
      utterances=tuple(utterances),
      delegate_ms=tuple(tick * tick_ms for tick, name in ep.script.controls if name == "delegate"))
