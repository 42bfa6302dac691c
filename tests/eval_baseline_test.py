"""eval.baseline: the VAD harness gate on real espeak speech, both policies, causality."""

from tests import testing  # isort: skip  (configures JAX before anything else)

import functools

from absl.testing import absltest
import numpy as np

from data_pipelines import speech
from data_pipelines import stream
from eval import baseline
from eval import vad

TICK = 3200  # Samples per 200 ms tick at 16 kHz.


@functools.lru_cache(maxsize=1)
def mic():
  """1 s silence, a question, 3 s silence, a short reply, 2 s silence; cut in whole ticks.

  Returns (mic ticks [n, 3200], (end tick of the question, start tick of the reply)).
  """
  first = speech.synthesize("Could you tell me what time it is?", voice="en-gb").audio
  second = speech.synthesize("Thanks a lot.", voice="en-us+f1").audio
  parts = [np.zeros(16000, np.float32), first, np.zeros(48000, np.float32), second,
           np.zeros(32000, np.float32)]
  x = np.concatenate(parts)
  x = np.pad(x, (0, -len(x) % TICK))
  first_end = (16000 + len(first)) // TICK
  second_start = (16000 + len(first) + 48000) // TICK
  return x.reshape(-1, TICK), (first_end, second_start)


def run(config, spoke=None, inputs=None):
  ticks, _ = mic()
  gate = baseline.TurnGate(config)
  for t, samples in enumerate(ticks):
    gate.step(samples, None if inputs is None else inputs[t],
              bool(spoke is not None and t > 0 and spoke[t - 1]))
  return gate.trace()


FLOOR = baseline.HarnessConfig(policy="floor")
RESPONSE = baseline.HarnessConfig(policy="response")


class TurnGateTest(absltest.TestCase):

  def test_floor_opens_after_a_detected_turn_end_until_speech(self):
    trace = run(FLOOR)
    _, (first_end, second_start) = mic()
    ends = trace.turn_end_ticks()
    self.assertLen(ends, 2)
    # The end is decided 500 ms (16 chunks) after the speech stops: 2-4 ticks later.
    self.assertBetween(ends[0] - first_end, 2, 4)
    allow = np.array(trace.allow)
    self.assertFalse(allow[:ends[0]].any())
    self.assertTrue(allow[ends[0]:second_start].all())
    starts = [t for t, e in trace.events if e.kind == "start"]
    self.assertFalse(allow[starts[1]:ends[1]].any())  # The reply takes the floor away.
    self.assertTrue(allow[ends[1]:].all())

  def test_gate_is_causal(self):
    ticks, _ = mic()
    full = run(FLOOR).allow
    for cut in (10, 27, 40):
      gate = baseline.TurnGate(FLOOR)
      prefix = [gate.step(samples) for samples in ticks[:cut]]
      self.assertEqual(tuple(prefix), full[:cut])

  def test_response_policy_times_out_without_an_answer(self):
    trace = run(RESPONSE)
    allow = np.array(trace.allow)
    for end in trace.turn_end_ticks():
      # 1000 ms to start answering: ticks end .. end + 4, then closed.
      self.assertTrue(allow[end:end + 5].all())
      self.assertFalse(allow[end + 5:end + 8].any())

  def test_response_policy_closes_when_the_answer_is_over(self):
    ends = run(RESPONSE).turn_end_ticks()
    spoke = np.zeros(len(mic()[0]), bool)
    spoke[ends[0] + 1:ends[0] + 4] = True  # A 3-tick answer starting a tick after the grant.
    allow = np.array(run(RESPONSE, spoke=spoke).allow)
    # Tick end + 4 is the first silent one (the answer's last audio came out in end + 3);
    # the gate sees that in tick end + 5 and closes.
    self.assertTrue(allow[ends[0]:ends[0] + 5].all())
    self.assertFalse(allow[ends[0] + 5:ends[1]].any())

  def test_background_result_grants_the_floor_in_silence(self):
    n = len(mic()[0])
    inputs = [stream.TickInputs()] * n
    late = n - 2
    inputs[late] = stream.TickInputs(bg_in=(1, 2))
    trace = run(RESPONSE, inputs=inputs)
    self.assertFalse(run(RESPONSE).allow[late])
    self.assertTrue(trace.allow[late])

  def test_bad_config(self):
    with self.assertRaisesRegex(ValueError, "unknown harness policy 'always'"):
      baseline.HarnessConfig(policy="always")
    with self.assertRaisesRegex(ValueError, "response_timeout_ms"):
      baseline.HarnessConfig(response_timeout_ms=0)
    gate = baseline.TurnGate()
    with self.assertRaisesRegex(ValueError, "NaN"):
      gate.step(np.full(TICK, np.nan, np.float32))
    with self.assertRaisesRegex(ValueError, r"shape \[n\]"):
      gate.step(np.zeros((2, TICK), np.float32))
    self.assertEqual(gate.tick, 0)
    self.assertIsInstance(gate.detector.vad, vad.SileroVad)


if __name__ == "__main__":
  absltest.main()
