"""Speech regions with silero VAD (the ONNX model bundled in faster-whisper)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chaffee_assets.speech.audio import SAMPLE_RATE


@dataclass(frozen=True)
class Region:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def speech_regions(
    audio: np.ndarray,
    *,
    threshold: float = 0.5,
    min_silence_ms: int = 300,
    min_speech_ms: int = 250,
    pad_ms: int = 30,
    block_s: float = 600.0,
) -> list[Region]:
    """Speech regions in seconds. Empty for silence, pure tones or noise the model rejects.

    Silero runs over block_s at a time: on the whole of a 3 h array it would hold two more copies of it
    (padded, and framed with context: ~1.5 GB). A region cut by a block boundary is joined again."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if audio.size == 0:
        return []
    options = VadOptions(
        threshold=threshold,
        min_silence_duration_ms=min_silence_ms,
        min_speech_duration_ms=min_speech_ms,
        speech_pad_ms=pad_ms,
    )
    step = int(block_s * SAMPLE_RATE)
    regions: list[Region] = []
    for first in range(0, audio.size, step):
        stamps = get_speech_timestamps(audio[first : first + step], options, sampling_rate=SAMPLE_RATE)
        for i, s in enumerate(stamps):
            start, end = (first + s["start"]) / SAMPLE_RATE, (first + s["end"]) / SAMPLE_RATE
            if i == 0 and regions and start - regions[-1].end <= min_silence_ms / 1000:
                regions[-1] = Region(regions[-1].start, end)  # one region across the block boundary
            else:
                regions.append(Region(start, end))
    return regions
