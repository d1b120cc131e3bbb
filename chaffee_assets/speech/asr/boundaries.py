"""Word and segment times made sound before anything downstream sees them: words in order and never
overlapping, across segment boundaries too; every segment spanning its words, inside the audio.

What the decoders get wrong (seen on generated corpora the suite never tuned on): a segment's last word
stretched into the pause after it ("it." 24.96-25.94 s, 0.98 s) past where the next segment's first word
starts (25.53 s); a first word decoded twice, at the end of one clip and the start of the next; words
of zero or negative length; words out of order. Each is a timing artifact, not a wrong word: the text is
kept and only the times move. repair() counts what it changed (Repairs), so a video's metadata says how
much was mended.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from chaffee_assets.speech.records import Segment

TOLERANCE_S = 0.05  # wordless segments: an overlap up to this is left alone
MIN_WORD_S = 0.02  # a word gets at least this much time when its neighbours can spare it
CAP_BASE_S, CAP_PER_CHAR_S = 0.4, 0.08  # the longest a word may last: 0.4 s + 0.08 s a letter
CHANGED_S = 1e-3  # a time that moved by more than this counts as a repair
EPS_S = 1e-6  # float noise: a 20 ms word moved by a clip offset may read 19.99999 ms


def longest(word: str) -> float:
    """The most time a spoken word takes: 0.56 s for "it.", 1.44 s for "unfortunately". Whisper's word
    times run into the following pause, never the other way, so only a word's end is capped."""
    return CAP_BASE_S + CAP_PER_CHAR_S * sum(c.isalnum() for c in word)


def repair(segments: list[Segment], duration_s: float, tolerance_s: float = TOLERANCE_S,
           counts: Counter | None = None) -> list[Segment]:
    """Segments in time order with their words repaired (word_times), each segment spanning its words and
    clipped to [0, duration_s]. A wordless segment is clipped at the next segment's start when they
    overlap by more than tolerance_s. `counts` (a Counter) receives what was changed, by kind."""
    counts = Counter() if counts is None else counts
    ordered = sorted(segments, key=_first_time)
    words = [w for s in ordered for w in sorted(s.words, key=lambda w: w.start)]
    times = word_times([(w.start, w.end, w.word) for w in words], duration_s, counts)
    fixed = iter(dataclasses.replace(w, start=a, end=b) for w, (a, b) in zip(words, times))
    out: list[Segment] = []
    for seg in ordered:
        seg_words = [next(fixed) for _ in seg.words]
        if seg_words:
            start, end = seg_words[0].start, seg_words[-1].end
        else:
            start, end = min(max(seg.start, 0.0), duration_s), min(max(seg.end, 0.0), duration_s)
        if out and out[-1].end - start > tolerance_s:  # only where a segment has no words to go by
            if not out[-1].words:
                out[-1] = dataclasses.replace(out[-1], end=max(out[-1].start, start))
            else:
                start = out[-1].end
        if abs(start - seg.start) > CHANGED_S or abs(end - seg.end) > CHANGED_S:
            counts["segment_spans"] += 1
        out.append(dataclasses.replace(seg, start=start, end=max(start, end), words=seg_words))
    return out


def word_times(times: list[tuple[float, float, str]], duration_s: float,
               counts: Counter | None = None) -> list[tuple[float, float]]:
    """(start, end, word) in decoding order -> (start, end) in order and without overlap.

    Args:
        times: each word's decoded start and end (seconds) and its text.
        duration_s: the recording's length; every time is clipped to [0, duration_s].
        counts: receives `words_moved` (a start pushed past an earlier word's), `words_cut` (an end cut at
            the next word's start), `words_capped` (an end cut to longest()), `words_given_time` (a word
            left with no room, given a share of its neighbours' time).
    Returns:
        One (start, end) per word: starts never decrease, each end lies between its start and the next
        word's start.
    """
    counts = Counter() if counts is None else counts
    starts, ends = [], []
    for start, end, _ in times:
        start = min(max(start, 0.0), duration_s)
        if starts and start < starts[-1]:
            counts["words_moved"] += 1
            start = starts[-1]
        starts.append(start)
        ends.append(min(max(end, start), duration_s))
    for i, (_, _, word) in enumerate(times):
        if i + 1 < len(starts) and ends[i] > starts[i + 1] + CHANGED_S:
            counts["words_cut"] += 1
            ends[i] = starts[i + 1]
        if ends[i] - starts[i] > longest(word) + CHANGED_S:
            counts["words_capped"] += 1
            ends[i] = starts[i] + longest(word)
    _share_time(starts, ends, duration_s, counts)
    return list(zip(starts, ends))


def _share_time(starts: list[float], ends: list[float], duration_s: float, counts: Counter) -> None:
    """Words shorter than MIN_WORD_S, run by run, get MIN_WORD_S each from the run's start; where the next
    word starts too soon for that, a neighbour on each side is taken in and the run shares evenly the span
    from its first start to its last end (or the next word's start). A word is never lengthened past
    MIN_WORD_S nor past the span its run already held."""
    def short(k: int) -> bool:
        return ends[k] - starts[k] < MIN_WORD_S - EPS_S

    i, n = 0, len(starts)
    while i < n:
        if not short(i):
            i += 1
            continue
        first = last = i
        while last + 1 < n and short(last + 1):
            last += 1
        while True:
            lo, need = starts[first], MIN_WORD_S * (last - first + 1)
            room = starts[last + 1] if last + 1 < n else duration_s
            hi = min(room, max(max(ends[first : last + 1]), lo + need))
            if hi - lo >= need - EPS_S or (first == 0 and last + 1 >= n):
                break
            if first > 0:
                first -= 1
            else:
                last += 1
        step = (hi - lo) / (last - first + 1)
        counts["words_given_time"] += sum(short(k) for k in range(first, last + 1))
        for k in range(first, last + 1):
            starts[k], ends[k] = lo + (k - first) * step, lo + (k - first + 1) * step
        i = last + 1


def _first_time(seg: Segment) -> tuple[float, float]:
    """Where a segment starts: its first word's start when it has words (the decoders' segment start can
    sit in the pause before them), else its own."""
    first = min((w.start for w in seg.words), default=seg.start)
    return first, seg.end

