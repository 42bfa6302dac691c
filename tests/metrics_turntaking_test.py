"""eval.metrics turn-taking (Full-Duplex-Bench rules) and delegation on hand-made truth."""

from tests import testing  # isort: skip  (configures JAX before anything else)

from absl.testing import absltest
from absl.testing import parameterized

from eval import metrics


def utt(text, start_ms, end_ms):
  return metrics.Utterance.of(text, start_ms, end_ms)


def out(*utterances, delegate_ms=()):
  return metrics.ModelOutput(tuple(utterances), tuple(delegate_ms))


def turn(start_ms, end_ms, role="request", response=0):
  return {"start_ms": start_ms, "end_ms": end_ms, "role": role, "response": response}


def truth(kind, turns, silent=(), keep=(), interruptions=()):
  return {"family": "turntaking", "kind": kind, "tick_ms": 200, "n_ticks": 100,
          "user_turns": list(turns), "silent_spans": list(silent),
          "keep_talking_spans": list(keep), "interruptions": list(interruptions)}


ANSWER = "Make a big pot of soup and read a book."


class TakesTurnTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("no_words", "", 0, 0, False),
      ("short_and_few", "Mm hmm yeah.", 0, 900, False),
      ("short_but_four_words", "Yes I can do.", 0, 900, True),
      ("few_but_one_second", "Okay then sure.", 0, 1000, True),
  )
  def test_fd_bench_rule(self, text, start_ms, end_ms, took):
    self.assertEqual(metrics.takes_turn(utt(text, start_ms, end_ms).words), took)


class TurnTakingTest(parameterized.TestCase):

  def test_smooth_answer_and_latency(self):
    t = truth("smooth", [turn(1000, 3000)])
    r = metrics.turntaking_score(t, out(utt(ANSWER, 3400, 6000)))
    self.assertEqual((r.turn_over, r.response_latency_ms), ((True,), (400,)))

  def test_latency_clipped_at_zero_when_talking_over_the_turn_end(self):
    t = truth("smooth", [turn(1000, 3000)])
    r = metrics.turntaking_score(t, out(utt(ANSWER, 2800, 6000)))
    self.assertEqual((r.turn_over, r.response_latency_ms), ((True,), (0.0,)))

  def test_no_output(self):
    t = truth("smooth", [turn(1000, 3000)])
    r = metrics.turntaking_score(t, out())
    self.assertEqual((r.turn_over, r.response_latency_ms), ((False,), ()))

  def test_short_reply_does_not_take_the_turn(self):
    t = truth("smooth", [turn(1000, 3000)])
    r = metrics.turntaking_score(t, out(utt("Okay.", 3300, 3700)))
    self.assertEqual((r.turn_over, r.response_latency_ms), ((False,), ()))

  def test_speech_before_the_turn_started_is_not_a_response(self):
    t = truth("smooth", [turn(4000, 6000)])
    r = metrics.turntaking_score(t, out(utt(ANSWER, 500, 3500)))
    self.assertEqual(r.turn_over, (False,))

  @parameterized.named_parameters(
      ("silent_through_the_pause", [utt(ANSWER, 5500, 8000)], False),
      ("backchannel_in_the_pause", [utt("Mm hmm.", 2500, 2900), utt(ANSWER, 5500, 8000)], False),
      ("takes_the_turn_in_the_pause", [utt(ANSWER, 2400, 5000)], True),
  )
  def test_pause_handling(self, said, took):
    t = truth("pause", [turn(1000, 5000)],
              silent=[{"start_ms": 2200, "end_ms": 3700, "reason": "pause"}])
    r = metrics.turntaking_score(t, out(*said))
    self.assertEqual(r.pause_turn_over, (took,))

  def test_side_talk_is_ignored_or_not(self):
    t = truth("ignore", [turn(6000, 8000)],
              silent=[{"start_ms": 500, "end_ms": 5000, "reason": "side_talk"}])
    self.assertEqual(metrics.turntaking_score(t, out(utt(ANSWER, 8400, 11000))).ignore_turn_over,
                     (False,))
    said = out(utt(ANSWER, 2000, 4500), utt(ANSWER, 8400, 11000))
    self.assertEqual(metrics.turntaking_score(t, said).ignore_turn_over, (True,))

  # The model answers from 4 s; the user interrupts over 7-8.5 s; the model
  # must be quiet from 7.6 s (the yield deadline) to 8.5 s, then reply.
  INTERRUPTION = {"start_ms": 7000, "end_ms": 8500, "yield_deadline_ms": 7600}

  @parameterized.named_parameters(
      # Stops at 7.3 s: heard 300 ms into the interruption, before the deadline.
      ("yields_in_time", 7300, 300, True),
      # Stops at 7.8 s: past the deadline.
      ("yields_late", 7800, 800, False),
      # Talks on to 10 s: heard until the interruption ends.
      ("talks_on", 10000, 1500, False),
      # Was already quiet when the interruption began.
      ("already_quiet", 6900, 0, True),
  )
  def test_interruption(self, answer_end_ms, latency, yielded):
    t = truth("interruption",
              [turn(1000, 3600), turn(7000, 8500, role="interruption", response=1)],
              interruptions=[self.INTERRUPTION])
    said = [utt(ANSWER, 4000, answer_end_ms)]
    if answer_end_ms < 8500:
      said.append(utt("Of course, go ahead.", 8900, 10000))
    r = metrics.turntaking_score(t, out(*said))
    self.assertEqual((r.yield_latency_ms, r.yielded), ((latency,), (yielded,)))
    self.assertEqual(r.turn_over, (True, True))
    if answer_end_ms < 8500:
      self.assertEqual(r.response_latency_ms, (400, 400))

  @parameterized.named_parameters(
      ("talked_through", [utt(ANSWER, 4000, 9000)], True),
      ("stopped", [utt(ANSWER, 4000, 6100)], False),
      ("paused_and_resumed", [utt("Make soup.", 4000, 6000), utt("Or read.", 7000, 8000)], True),
      ("resumed_too_late", [utt("Make soup.", 4000, 6000), utt("Or read.", 7500, 8000)], False),
  )
  def test_backchannel(self, said, kept):
    t = truth("backchannel", [turn(1000, 3600)],
              keep=[{"start_ms": 6000, "end_ms": 6500, "reason": "backchannel"}])
    self.assertEqual(metrics.turntaking_score(t, out(*said)).kept_talking, (kept,))

  def test_aggregate_pools_events(self):
    t = truth("smooth", [turn(1000, 3000), turn(8000, 9000, response=1)])
    results = [metrics.turntaking_score(t, out(utt(ANSWER, 3200, 6000), utt(ANSWER, 9600, 12000))),
               metrics.turntaking_score(t, out())]
    summary = metrics.aggregate_turntaking(results)
    self.assertEqual(summary["turn_over_rate"], 0.5)
    self.assertEqual(summary["response_latency_ms"], 400)
    self.assertEqual(summary["episodes"], 2)


DELEGATION = {"family": "delegation", "tick_ms": 200, "n_ticks": 75, "delegations": [
    {"answer_value": "31", "delegate": {"tick": 21, "window_ticks": [20, 23]},
     "answer": {"window_ticks": [40, 53]}}]}


class DelegationTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("perfect", [21 * 200], "Got it, it's 31.", 8800, True, True),
      ("late_delegate_early_answer", [24 * 200], "It's 31.", 7999, False, False),
      ("wrong_value", [20 * 200], "It's 311.", 8800, True, False),
      ("nothing", [], None, 0, False, False),
  )
  def test_delegation(self, delegate_ms, said, at_ms, delegated, answered):
    output = out(*([utt(said, at_ms, at_ms + 900)] if said else []), delegate_ms=delegate_ms)
    r = metrics.delegation_score(DELEGATION, output)
    self.assertEqual((r.delegated, r.answered), ((delegated,), (answered,)))

  def test_aggregate(self):
    results = [metrics.delegation_score(DELEGATION, out(delegate_ms=[4200])),
               metrics.delegation_score(DELEGATION, out())]
    self.assertEqual(metrics.aggregate_delegation(results),
                     {"delegate_rate": 0.5, "answer_rate": 0.0, "episodes": 2})


if __name__ == "__main__":
  absltest.main()
