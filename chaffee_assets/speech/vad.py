"""Speech regions with silero VAD (the ONNX model bundled in faster-whisper), computed once per recording.

Silero gives a speech probability per 32 ms frame. The probabilities are computed once (for ASR, on the
prefetch thread while the model decodes the previous window) and kept with the transcript; ASR chunks,
the re-decode of missed speech and diarization each turn them into regions with their own settings
(regions()), instead of running the network again. One pass over 24 min of audio costs ~3 s on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chaffee_assets.speech.audio import SAMPLE_RATE

FRAME = 512  # samples per silero frame
FRAME_S = FRAME / SAMPLE_RATE


@dataclass(frozen=True)
class Region:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def speech_probs(audio: np.ndarray, block_s: float = 600.0) -> np.ndarray:
    """Speech probability per FRAME samples (float32, ceil(len / FRAME) values).

    Silero runs over block_s at a time: on the whole of a 3 h array it would hold two more copies of it
    (padded, and framed with context: ~1.5 GB). Blocks are whole frames, so frame i is always
    audio[i * FRAME : (i + 1) * FRAME]."""
    from faster_whisper.vad import get_vad_model

    if audio.size == 0:
        return np.zeros(0, dtype=np.float32)
    model = get_vad_model()
    step = int(block_s * SAMPLE_RATE) // FRAME * FRAME
    out = []
    for first in range(0, audio.size, step):
        block = audio[first : first + step]
        padded = np.pad(block, (0, -block.size % FRAME))
        out.append(np.asarray(model(padded), dtype=np.float32).reshape(-1))
    return np.concatenate(out)


def regions(
    probs: np.ndarray,
    duration_s: float,
    *,
    threshold: float = 0.5,
    min_silence_ms: int = 300,
    min_speech_ms: int = 250,
    pad_ms: int = 30,
    max_speech_s: float = float("inf"),
) -> list[Region]:
    """Speech regions (seconds) from frame probabilities, by hysteresis: speech starts at a frame >=
    threshold and ends where the probability stays below threshold - 0.15 for min_silence_ms. Regions
    shorter than min_speech_ms are dropped; the rest are widened by pad_ms (meeting halfway when two are
    closer than 2 x pad_ms). A region longer than max_speech_s is split at its quietest frames."""
    low = max(threshold - 0.15, 0.01)
    min_silence = min_silence_ms / 1000 / FRAME_S
    found: list[list[int]] = []  # [first frame, end frame)
    start = quiet_from = None
    for i, p in enumerate(probs):
        if start is None:
            if p >= threshold:
                start, quiet_from = i, None
        elif p >= threshold:
            quiet_from = None
        elif p < low:
            quiet_from = i if quiet_from is None else quiet_from
            if i - quiet_from >= min_silence:
                found.append([start, quiet_from])
                start = quiet_from = None
    if start is not None:
        found.append([start, len(probs)])
    min_frames = min_speech_ms / 1000 / FRAME_S
    n = round(duration_s * SAMPLE_RATE)
    # in samples until the end, so a region's seconds map back to the exact sample (int(t * SAMPLE_RATE))
    spans = [(first * FRAME, end * FRAME) for first, end in found if end - first > min_frames]
    spans = _split_long(spans, probs, (max_speech_s - 2 * pad_ms / 1000) * SAMPLE_RATE)
    return [Region(x / SAMPLE_RATE, y / SAMPLE_RATE) for x, y in _padded(spans, pad_ms * SAMPLE_RATE // 1000, n)]


def _split_long(spans: list[tuple[int, int]], probs: np.ndarray, limit: float) -> list[tuple[int, int]]:
    out = []
    for a, b in spans:
        while b - a > limit:
            first, last = int(a + limit / 2) // FRAME, int(a + limit) // FRAME
            cut = (first + int(np.argmin(probs[first:last]))) * FRAME  # the least speech-like frame
            out.append((a, cut))
            a = cut
        out.append((a, b))
    return out


def _padded(spans: list[tuple[int, int]], pad: int, n: int) -> list[tuple[int, int]]:
    out = []
    for i, (a, b) in enumerate(spans):
        before = pad if i == 0 else min(pad, (a - spans[i - 1][1]) // 2)
        after = pad if i == len(spans) - 1 else min(pad, (spans[i + 1][0] - b) // 2)
        out.append((max(0, a - before), min(n, b + after)))
    return out


def speech_regions(audio: np.ndarray, probs: np.ndarray | None = None, **options) -> list[Region]:
    """Speech regions in seconds (options: see regions()). Empty for silence, pure tones or noise the model
    rejects. probs: this audio's speech_probs() when already computed (ignored unless one per frame)."""
    if probs is None or len(probs) != -(-audio.size // FRAME):
        probs = speech_probs(audio)
    return regions(probs, audio.size / SAMPLE_RATE, **options)
