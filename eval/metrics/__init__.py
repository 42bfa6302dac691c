"""Interactivity metrics: each a pure function (truth, ModelOutput) -> result, plus aggregates.

`truth` is an episode's `EpisodeScript.truth` (documented by its scenario
family in `data_pipelines.scenarios`); `ModelOutput` is what the model was
heard saying (`output`). Per family:

  timespeak, cuespeak (and the timing of repcount / proactive_qa / charades):
    `timing_accuracy`, `aggregate_timing` (per task and macro average).
  repcount: `repcount_score`, `aggregate_repcount` (OBO, normalized MAE).
  proactive_qa: `pauc`, `aggregate_pauc` (PAUC@0.5).
  charades: `charades_score`, `aggregate_charades` (IoU, mIoU, R@0.3/0.5/0.7).
  turntaking: `turntaking_score`, `aggregate_turntaking` (Full-Duplex-Bench).
  delegation: `delegation_score`, `aggregate_delegation`.

`oracle_output` gives the output of a model that says exactly its target lines.
"""

from eval.metrics.charades import aggregate_charades
from eval.metrics.charades import charades_score
from eval.metrics.charades import GroundingResult
from eval.metrics.charades import temporal_iou
from eval.metrics.delegation import aggregate_delegation
from eval.metrics.delegation import delegation_score
from eval.metrics.delegation import DelegationResult
from eval.metrics.oracle import oracle_output
from eval.metrics.output import from_ticks
from eval.metrics.output import ModelOutput
from eval.metrics.output import normalize
from eval.metrics.output import Utterance
from eval.metrics.output import Word
from eval.metrics.proactive import aggregate_pauc
from eval.metrics.proactive import pauc
from eval.metrics.proactive import PaucResult
from eval.metrics.proactive import step_area
from eval.metrics.repcount import aggregate_repcount
from eval.metrics.repcount import CountResult
from eval.metrics.repcount import predicted_count
from eval.metrics.repcount import repcount_score
from eval.metrics.timing import aggregate_timing
from eval.metrics.timing import timing_accuracy
from eval.metrics.timing import TimingResult
from eval.metrics.turntaking import aggregate_turntaking
from eval.metrics.turntaking import takes_turn
from eval.metrics.turntaking import turntaking_score
from eval.metrics.turntaking import TurnTakingResult
