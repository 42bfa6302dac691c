"""Interactivity benchmarks, metrics, the turn-based VAD-harness baseline and reports."""
