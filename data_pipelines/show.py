"""Shows a person the micro-turn stream of a spoken prompt.

  python -m data_pipelines.show --text "Count down from five." --out=runs/show/countdown

writes `<out>.png` (waveform with word timings, log-mel, dMel codes, all on
the 200 ms tick grid) and `<out>_griffin_lim.wav` (the dMel codes turned back
into sound with Griffin-Lim: what the model hears), and prints one line per tick.
"""

from absl import app
from absl import flags

from data_pipelines import stream_view

_TEXT = flags.DEFINE_string("text", None, "What the user says.")
_OUT = flags.DEFINE_string("out", "stream", "Output path prefix for the PNG and WAV.")
_VOICE = flags.DEFINE_string("voice", "en-us", "espeak-ng voice.")
_RATE = flags.DEFINE_integer("rate", 175, "Speaking rate, words per minute.")
_PITCH = flags.DEFINE_integer("pitch", 50, "Base pitch, 0-100.")


def main(argv):
  del argv
  view = stream_view.build_stream(_TEXT.value, voice=_VOICE.value, rate=_RATE.value, pitch=_PITCH.value)
  print(view.layout.describe())
  print(stream_view.tick_table(view))
  for path in stream_view.write_outputs(view, _OUT.value):
    print(f"wrote {path}")


if __name__ == "__main__":
  flags.mark_flag_as_required("text")
  app.run(main)
