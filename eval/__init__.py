"""Interactivity benchmarks, metrics, the turn-based VAD-harness baseline and reports.

- `eval.metrics`: the metrics (TimeSpeak/CueSpeak timing, RepCount, PAUC, Charades IoU,
  FD-bench turn-taking, delegation) and `ModelOutput`.
- `eval.vad`: streaming Silero VAD (onnxruntime) and a causal turn detector.
- `eval.baseline`: the VAD harness gate (`TurnGate`) that keeps the model quiet outside turns.
- `eval.episodes`: heldout episodes as per-tick session inputs.
- `eval.players`: the model side of a session (`SessionEngine` adapter, oracle replay).
- `eval.streaming`: episodes played tick by tick in each mode (ours / behind the harness).
- `eval.scoring`, `eval.evaluate`: per-family scores and aggregates.
- `eval.report`: table, timeline plots, JSON.
- `eval.suite`: the whole suite as one call (`run_suite(SuiteOptions(...))`);
  `python -m eval.run` is its flag launcher.
See eval/README.md.
"""
