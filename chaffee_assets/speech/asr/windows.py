"""A recording cut into windows of about window_s at quiet moments: what prep workers and transcribers share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from chaffee_assets.speech.audio import SAMPLE_RATE
from chaffee_assets.speech.vad import FRAME, speech_probs


def window_parts(blocks: Iterable[np.ndarray], window_s: float) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The CPU side of each window: (first sample, samples, silero speech probabilities)."""
    for first, window in windows(blocks, window_s):
        yield first, window, speech_probs(window)


def windows(blocks: Iterable[np.ndarray], window_s: float, search_s: float = 30.0,
            frame_s: float = 0.1) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample, samples) windows of at most window_s from consecutive blocks. Each window but the
    last ends at the quietest frame_s of its last search_s seconds, so a cut rarely splits a word. Cuts fall
    on whole VAD frames, so the windows' speech probabilities line up into one sequence for the file."""
    size = int(window_s * SAMPLE_RATE)
    search = min(int(search_s * SAMPLE_RATE), size // 2)
    frame = int(frame_s * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    have = first = 0
    for block in blocks:
        pending.append(np.asarray(block, dtype=np.float32).reshape(-1))
        have += pending[-1].size
        while have > size:
            buffer = np.concatenate(pending)
            tail = buffer[size - search : size]
            n = tail.size // frame
            energy = np.square(tail[: n * frame].reshape(n, frame)).mean(axis=1)
            cut = (size - search + int(np.argmin(energy)) * frame + frame // 2) // FRAME * FRAME
            yield first, buffer[:cut]
            first += cut
            pending, have = [buffer[cut:]], buffer.size - cut
    if have:
        yield first, np.concatenate(pending)
