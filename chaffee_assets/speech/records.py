"""The records ASR hands on: words and segments with times (seconds from the file's start) and confidences."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = None
    speaker_conf: float | None = None


@dataclass
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None
    speaker_conf: float | None = None


@dataclass
class Transcript:
    duration_s: float
    segments: list[Segment]
    dropped: list[tuple[Segment, str]] = field(default_factory=list)  # (segment, why) removed by guards
    compute_s: float = 0.0  # time spent inside the model
    speech_probs: np.ndarray | None = None  # silero, one per vad.FRAME samples from the start
    repairs: dict[str, int] = field(default_factory=dict)  # boundaries.repair's counts, by kind
