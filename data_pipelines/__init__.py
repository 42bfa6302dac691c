"""Audio, video and text front ends, the micro-turn stream format, scenario generators, grain pipelines."""
