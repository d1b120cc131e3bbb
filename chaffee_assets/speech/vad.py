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
) -> list[Region]:
    """Speech regions in seconds. Empty for silence, pure tones or noise the model rejects."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if audio.size == 0:
        return []
    options = VadOptions(
        threshold=threshold,
        min_silence_duration_ms=min_silence_ms,
        min_speech_duration_ms=min_speech_ms,
        speech_pad_ms=pad_ms,
    )
    stamps = get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE)
    return [Region(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]
