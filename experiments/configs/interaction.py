"""The interaction experiment: stream layout, audio front end and demo speech.

Variants (`get_config(arg)`):
  tiny   runs on a laptop CPU in minutes: 2 mel frames per audio token and one
         40×40 video patch per tick (28 positions per tick), 15 s episodes.
  small  one mel frame per audio token, an 80×80 frame (4 patches) per tick,
         wider text slots (53 positions per tick), 30 s episodes.
  1b     dense, ~1.0 B parameters (d_model 2048, 22 layers, GQA 16/8 heads of
         128, d_ff 8192), for accelerators: the small stream with a 160×160
         frame (16 patches, 65 positions per tick), 60 s episodes.
  moe_large  the same stream and attention with 16 experts of d_ff 4096, top-2:
         ~6.2 B parameters, ~1.0 B active per token.

Text out has 6 (tiny) or 8 (other variants) byte slots per tick, 30–40 bytes/s:
the assistant voice speaks 16–19 bytes/s, so its aligned text keeps up with it.
1b and moe_large use impl="pallas": they only fit an accelerator, where the
batch-invariant kernels run natively and make trainer = sampler (RL
on-policy); tiny and small stay on "xla" for fast CPU runs. Print any
variant's parameter counts and token rates (built abstractly, no memory):
  python -m interaction.summary --config=experiments/configs/interaction.py:1b

Launch (flags override any field):
  python -m experiments.demo --config=experiments/configs/interaction.py:tiny \
      --workdir=runs/demo --config.stream.text_out_tokens=8 --config.seed=1
  python -m data_pipelines.render --config=experiments/configs/interaction.py:tiny \
      --family=timespeak --index=3 --config.data.families.charades=0
  python -m experiments.train --config=experiments/configs/interaction.py:tiny \
      --workdir=runs/tiny --config.train.steps=300
"""

import ml_collections

from interaction import params

VARIANTS = ("tiny", "small", "1b", "moe_large")

_STREAM = {
    "tiny": dict(frames_per_audio_token=2, video_height=40, video_width=40,
                 text_in_tokens=4, bg_in_tokens=4, text_out_tokens=6),
    "small": dict(frames_per_audio_token=1, video_height=80, video_width=80,
                  text_in_tokens=8, bg_in_tokens=8, text_out_tokens=8),
    "1b": dict(frames_per_audio_token=1, video_height=160, video_width=160,
               text_in_tokens=8, bg_in_tokens=8, text_out_tokens=8),
}
_STREAM["moe_large"] = _STREAM["1b"]

# Scenario family -> mixing weight (data_pipelines.scenarios.FAMILIES).
_FAMILY_WEIGHTS = (("timespeak", 1.0), ("cuespeak", 1.0), ("turntaking", 2.0),
                   ("delegation", 1.0), ("repcount", 1.0), ("proactive_qa", 1.0),
                   ("charades", 1.0))
_N_TICKS = {"tiny": 75, "small": 150, "1b": 300, "moe_large": 300}  # 15, 30, 60 s.
_BATCH_SIZE = {"tiny": 4, "small": 16, "1b": 32, "moe_large": 32}
_MODEL = {
    "tiny": dict(d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=16, d_ff=128,
                 n_experts=0, dmel_channel_dim=4, hmlp_dims=(32, 64), flow_dim=64, flow_layers=2),
    "small": dict(d_model=256, n_layers=6, n_heads=8, n_kv_heads=4, head_dim=32, d_ff=512,
                  n_experts=4, top_k=2, dmel_channel_dim=8, hmlp_dims=(64, 128), flow_dim=256,
                  flow_layers=3),
    "1b": dict(d_model=2048, n_layers=22, n_heads=16, n_kv_heads=8, head_dim=128, d_ff=8192,
               n_experts=0, dmel_channel_dim=16, hmlp_dims=(256, 512), flow_dim=1024,
               flow_layers=4),
}
_MODEL["moe_large"] = dict(_MODEL["1b"], d_ff=4096, n_experts=16, top_k=2)
_IMPL = {"tiny": "xla", "small": "xla", "1b": "pallas", "moe_large": "pallas"}
# Device mesh axis sizes (-1: the remaining devices); see interaction.sharding.
_MESH = {
    "tiny": dict(data=-1, fsdp=1, expert=1, sequence=1, tensor=1),
    "small": dict(data=-1, fsdp=1, expert=1, sequence=1, tensor=1),
    "1b": dict(data=1, fsdp=-1, expert=1, sequence=1, tensor=1),
    "moe_large": dict(data=1, fsdp=-1, expert=1, sequence=1, tensor=1),
}
# interaction.training.TrainConfig: steps, AdamW + warmup/cosine, checkpoints, eval, logging.
_TRAIN = {
    "tiny": dict(steps=2000, learning_rate=3e-3, warmup_steps=100, precision="f32"),
    "small": dict(steps=20000, learning_rate=1e-3, warmup_steps=500, precision="f32"),
    "1b": dict(steps=100000, learning_rate=3e-4, warmup_steps=2000, precision="f32"),
    "moe_large": dict(steps=100000, learning_rate=3e-4, warmup_steps=2000, precision="f32"),
}


def get_config(arg: str = "tiny") -> ml_collections.ConfigDict:
  """Returns the config for variant `arg` (one of VARIANTS)."""
  if arg not in VARIANTS:
    raise ValueError(f"unknown variant {arg!r} for interaction.py; expected one of {VARIANTS}")
  config = ml_collections.ConfigDict()
  config.variant = arg
  config.seed = 0

  # data_pipelines.stream.TickLayout fields; mel holds data_pipelines.audio.MelSpec fields.
  config.stream = ml_collections.ConfigDict(dict(tick_ms=200, **_STREAM[arg]))
  config.stream.mel = ml_collections.ConfigDict(dict(
      sample_rate=16000, n_mels=80, fmin=80.0, fmax=7600.0, window_ms=50.0, hop_ms=25.0,
      n_fft=1024, log_floor=1e-10))

  # data_pipelines.pipeline.DataSpec: which scenario families, how long, how many.
  config.data = ml_collections.ConfigDict(dict(
      families=ml_collections.ConfigDict(dict(_FAMILY_WEIGHTS)),
      n_ticks=_N_TICKS[arg], batch_size=_BATCH_SIZE[arg], episodes_per_epoch=2000, seed=0,
      prefetch_threads=2))

  # interaction.ModelConfig: the shared decoder, inputs and heads. The text-loss
  # weights (interaction.text_loss) lift the rare decisions above the filler:
  # only ~3% of ticks start speech and ~10% of text-out slots carry content.
  config.model = ml_collections.ConfigDict(dict(
      _MODEL[arg], impl=_IMPL[arg], onset_loss_weight=20.0, content_loss_weight=5.0))

  # interaction.sharding: mesh axis sizes and the one logical-axis rules table
  # (every parallelism strategy is a choice of sizes, e.g. --config.mesh.tensor=2).
  config.mesh = ml_collections.ConfigDict(dict(_MESH[arg], rules=params.DEFAULT_RULES))

  # data_pipelines.speech.synthesize options for the demo's spoken prompt.
  config.speech = ml_collections.ConfigDict(dict(voice="en-us", rate=175, pitch=50))

  # interaction.training.TrainConfig: optimizer, schedule, checkpoints, eval and logging cadence.
  config.train = ml_collections.ConfigDict(dict(
      _TRAIN[arg], schedule="cosine", end_lr_ratio=0.1, clip_norm=1.0, weight_decay=0.1,
      b1=0.9, b2=0.95, checkpoint_every=200, checkpoint_keep=3, async_checkpoints=True,
      eval_every=200, eval_batches=4, log_every=10, max_consecutive_nonfinite=5,
      distributed=False))
  return config
