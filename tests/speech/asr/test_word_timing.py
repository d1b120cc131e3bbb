"""DTW, token times and word caps of word_timing.py on hand-made matrices (no model)."""

from __future__ import annotations

import numpy as np
import torch

from chaffee_assets.speech.asr.word_timing import FRAMES_PER_S, TimedWord, cap_sentence_ends, dtw, token_times


def staircase(starts: list[int], frames: int) -> torch.Tensor:
    """Cost [tokens, frames]: 0 where token i owns the frames from starts[i] to the next start, 1 elsewhere."""
    cost = torch.ones(len(starts), frames)
    for i, first in enumerate(starts):
        cost[i, first : starts[i + 1] if i + 1 < len(starts) else frames] = 0
    return cost


def test_dtw_finds_each_token_start_in_a_batch_of_different_sizes():
    a, b = [0, 10, 25, 40], [0, 5, 7]
    cost = torch.full((2, 4, 60), 5.0)  # padding beyond the second clip's (3, 20) must not matter
    cost[0] = staircase(a, 60)
    cost[1, :3, :20] = staircase(b, 20)
    trace = dtw(cost)
    assert trace.shape == (2, 5, 61)
    assert list(np.rint(token_times(trace[0], 4, 60) * FRAMES_PER_S)) == a
    assert list(np.rint(token_times(trace[1], 3, 20) * FRAMES_PER_S)) == b


def test_sentence_end_words_lose_the_pause_they_swallowed():
    words = [TimedWord(0.0, 0.3, "Meat", 0.9, 0), TimedWord(0.3, 0.6, "is", 0.9, 1),
             TimedWord(0.6, 3.0, "food.", 0.9, 2), TimedWord(3.0, 5.0, "Fiber", 0.9, 3),
             TimedWord(5.0, 5.3, "is", 0.9, 4), TimedWord(5.3, 5.6, "not.", 0.9, 5)]
    out = cap_sentence_ends(words)
    limit = 2 * float(np.median([0.3, 0.3, 2.4, 2.0, 0.3, 0.3]))  # 0.6
    assert out[2].start == 0.6 and abs(out[2].end - (0.6 + limit)) < 1e-9  # the pause after a sentence
    assert abs(out[3].start - (5.0 - limit)) < 1e-9 and out[3].end == 5.0  # the pause before the next one
    assert (out[0].start, out[0].end, out[5].end) == (0.0, 0.3, 5.6)  # ordinary words stay
