"""Audio, video and text front ends, the micro-turn stream format, and speech.

The stream format is the contract every other part of microturn uses:
`TickLayout` says which token positions a 200 ms tick holds, `pack`/`unpack`
turn one tick's inputs and outputs into arrays and back.
"""

from data_pipelines import audio
from data_pipelines import text
from data_pipelines import video
from data_pipelines.audio import MelSpec
from data_pipelines.stream import PackedTicks
from data_pipelines.stream import Slot
from data_pipelines.stream import TickInputs
from data_pipelines.stream import TickLayout
from data_pipelines.stream import TickOutputs
