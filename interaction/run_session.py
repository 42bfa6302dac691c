r"""Runs one live session on a spoken prompt and shows what the model said and when.

  python -m interaction.run_session --checkpoint=runs/train_tiny \
      --text="Tell me when ten seconds have passed." --out=runs/session/prompt
  python -m interaction.run_session --config=experiments/configs/interaction.py:tiny \
      --text="Hello." --out=runs/session/random   # untrained weights: plumbing only

A thin launcher over `interaction.session_timeline`: the prompt is
synthesized with espeak-ng and streamed into a `SessionEngine` as microphone
samples, one 200 ms tick per `append`, followed by `--listen_s` seconds of
silence so the model can answer. Writes `<out>_timeline.png` (the user's
waveform and mel, the model's mel on the same time axis, and its text per
tick) and `<out>_model.wav` (the model's speech: its mel turned into sound
with Griffin-Lim, silent ticks as silence), and prints one line per tick.
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from interaction import sampler as sampler_lib
from interaction import session_timeline

_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "Training workdir to restore (latest step).")
_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Without --checkpoint: a config whose model is randomly initialized.")
_TEXT = flags.DEFINE_string("text", "Tell me when ten seconds have passed.", "What the user says.")
_LISTEN_S = flags.DEFINE_float("listen_s", 5.0, "Seconds of silence streamed after the prompt.")
_OUT = flags.DEFINE_string("out", "runs/session/session", "Output path prefix.")
_SEED = flags.DEFINE_integer("seed", 0, "Sampler seed.")
_TEMPERATURE = flags.DEFINE_float("temperature", 0.0, "0 = greedy.")
_TOP_K = flags.DEFINE_integer("top_k", 0, "0 = whole vocabulary.")
_FLOW_STEPS = flags.DEFINE_integer("flow_steps", 8, "Euler steps of the flow head (1-32).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config, model = session_timeline.load_model(_CHECKPOINT.value, _CONFIG.value)
  sampler = sampler_lib.SamplerConfig(seed=_SEED.value, temperature=_TEMPERATURE.value,
                                      top_k=_TOP_K.value)
  session_timeline.stream_prompt(model, _TEXT.value, listen_s=_LISTEN_S.value, sampler=sampler,
                                 flow_steps=_FLOW_STEPS.value,
                                 speech_options=dict(config.speech), out=_OUT.value)
  print(f"wrote {_OUT.value}_timeline.png and {_OUT.value}_model.wav")


if __name__ == "__main__":
  app.run(main)
