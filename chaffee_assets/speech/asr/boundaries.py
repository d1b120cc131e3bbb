"""Segment boundaries made sound before anything downstream sees them: in time order, inside the audio,
no overlap beyond a tolerance, every word inside its segment.

The decoder can end a segment in the padding after its last word, past where the next segment's first
word starts (0.28 s seen on a generated monologue). That overlap is only timing: the earlier segment is
clipped at the later one's first word. When the earlier segment's WORDS run into the later one's, both
claim the same speech (a duplicated decode): clipping would hide that, so it is left for the
segment_quality check, which fails that video with the rule and the segment.
"""

from __future__ import annotations

import dataclasses

from chaffee_assets.speech.records import Segment

TOLERANCE_S = 0.05


def repair(segments: list[Segment], duration_s: float, tolerance_s: float = TOLERANCE_S) -> list[Segment]:
    """Segments sorted by start, clipped to [0, duration_s], overlaps cut at the later segment's first
    word, words held inside their segment. A segment outside the audio, or one whose words overlap the
    next one's, is passed on unrepaired (quality.segment_problems reports it)."""
    out: list[Segment] = []
    for seg in sorted(segments, key=lambda s: (s.start, s.end)):
        seg = _inside(seg, 0.0, duration_s) if seg.start < duration_s and seg.end > 0 else seg
        if out and out[-1].end - seg.start > tolerance_s:
            out[-1], seg = _cut(out[-1], seg, tolerance_s)
        out.append(seg)
    return out


def _cut(earlier: Segment, later: Segment, tolerance_s: float) -> tuple[Segment, Segment]:
    """The pair with the overlap removed, or unchanged when it is in the words themselves."""
    first_word = later.words[0].start if later.words else later.start
    last_word = earlier.words[-1].end if earlier.words else earlier.start
    if first_word <= earlier.start or last_word > first_word + tolerance_s:
        return earlier, later
    return _inside(earlier, earlier.start, first_word), _inside(later, max(later.start, first_word), later.end)


def _inside(seg: Segment, start: float, end: float) -> Segment:
    """seg clipped to [start, end], its words clipped to the segment."""
    start, end = max(seg.start, start), min(seg.end, end)
    words = [dataclasses.replace(w, start=min(max(w.start, start), end), end=min(max(w.end, start), end))
             for w in seg.words]
    return dataclasses.replace(seg, start=start, end=end, words=words)
