"""Segment-quality rules shared by the speaker_labels step, the asset checks and the tests (plain data
in, problems out), and the per-segment judgement: a broken rule repairs or drops that segment, and a
video is refused only when what is left cannot be trusted."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from chaffee_assets.speech.asr.guards import Guards
from chaffee_assets.speech.records import Segment

MAX_SEGMENT_S = 60.0
OVERLAP_TOLERANCE_S = 0.25
# A video is refused when segments covering more than this share of its transcribed speech time had to
# be dropped (README, "Quality is judged per segment", gives the figures behind it).
MAX_DROPPED_SHARE = 0.2


def segment_problems(segments: list[Segment], duration_s: float, *, max_segment_s: float = MAX_SEGMENT_S,
                     overlap_tolerance_s: float = OVERLAP_TOLERANCE_S) -> list[str]:
    """Everything wrong with one video's speaker-labelled segments; empty when they are sound."""
    found = problems_by_segment(segments, duration_s, max_segment_s=max_segment_s,
                                overlap_tolerance_s=overlap_tolerance_s)
    return [p for i in sorted(found) for p in found[i]]


def problems_by_segment(segments: list[Segment], duration_s: float, *, max_segment_s: float = MAX_SEGMENT_S,
                        overlap_tolerance_s: float = OVERLAP_TOLERANCE_S) -> dict[int, list[str]]:
    """{segment index: the rules it breaks, as "segment i [start-end]: rule"} for the segments that break any."""
    problems: dict[int, list[str]] = {}
    previous: Segment | None = None
    for i, s in enumerate(segments):
        where, broken = f"segment {i} [{s.start:.2f}-{s.end:.2f}]", []
        if not s.text.strip():
            broken.append("empty text")
        if not s.start < s.end:
            broken.append("start is not before end")
        if s.start < 0 or s.end > duration_s + 0.05:
            broken.append(f"outside the audio (0-{duration_s:.2f}s)")
        if s.end - s.start > max_segment_s:
            broken.append(f"longer than {max_segment_s:.0f}s")
        if not s.speaker:
            broken.append("no speaker")
        if previous is not None:
            if s.start < previous.start:
                broken.append("out of order")
            elif previous.end - s.start > overlap_tolerance_s:
                broken.append(f"overlaps the previous segment by {previous.end - s.start:.2f}s")
        if broken:
            problems[i] = [f"{where}: {b}" for b in broken]
        previous = s
    return problems


@dataclass
class Judged:
    """One video's segments after judgement: what is kept, what was repaired or dropped and why, and the
    reason the whole video cannot be trusted (None when it can)."""

    segments: list[Segment]
    repairs: list[str] = field(default_factory=list)  # "segment i [a-b]: split in 2 (longer than 60s)"
    dropped: list[dict] = field(default_factory=list)  # {"start", "end", "text", "why"}
    dropped_share: float = 0.0  # of the speech time of the segments judged
    refused: str | None = None


def judge(segments: list[Segment], duration_s: float, guards: Guards = Guards()) -> Judged:
    """Repair what can be repaired (a segment longer than MAX_SEGMENT_S is split at its widest pauses
    between words), drop a decoding loop the engine's second pass did not clear (Guards.loops) and each
    segment that still breaks a rule of problems_by_segment, and refuse the video when more than
    MAX_DROPPED_SHARE of its speech time was dropped."""
    judged, pieces = Judged([]), []
    for i, s in enumerate(segments):
        split = _split_long(s)
        if len(split) > 1:
            judged.repairs.append(f"segment {i} [{s.start:.2f}-{s.end:.2f}]: split in {len(split)} "
                                  f"(longer than {MAX_SEGMENT_S:.0f}s)")
        pieces.extend(split)
    looped = set(guards.loops(pieces))
    for i in sorted(looped):
        s = pieces[i]
        judged.dropped.append({"start": s.start, "end": s.end, "text": s.text,
                               "why": f"segment {i} [{s.start:.2f}-{s.end:.2f}]: a decoding loop "
                                      f"({guards.loop_segments}+ segments in a row say the same)"})
    judged.segments = [s for i, s in enumerate(pieces) if i not in looped]
    while found := problems_by_segment(judged.segments, duration_s):
        i = min(found)  # dropping one segment can clear its neighbour's overlap, so one at a time
        s = judged.segments.pop(i)
        judged.dropped.append({"start": s.start, "end": s.end, "text": s.text, "why": "; ".join(found[i])})
    total = sum(abs(s.end - s.start) for s in segments)  # a reversed segment still covers its speech
    lost = sum(abs(d["end"] - d["start"]) for d in judged.dropped)
    judged.dropped_share = lost / total if total > 0 else 0.0
    if judged.dropped_share > MAX_DROPPED_SHARE:
        judged.refused = (f"{judged.dropped_share:.0%} of its speech time broke segment rules and was dropped "
                          f"(more than {MAX_DROPPED_SHARE:.0%}); first: {judged.dropped[0]['why']}")
    return judged


def _split_long(s: Segment) -> list[Segment]:
    """s, or s cut at the widest gaps between its words into pieces of at most MAX_SEGMENT_S."""
    if s.end - s.start <= MAX_SEGMENT_S or len(s.words) < 2:
        return [s]
    gaps = sorted(range(1, len(s.words)), key=lambda k: s.words[k - 1].end - s.words[k].start)
    for n in range(1, len(gaps) + 1):
        cuts = sorted(gaps[:n])
        groups = [s.words[a:b] for a, b in zip([0, *cuts], [*cuts, len(s.words)])]
        if all(g[-1].end - g[0].start <= MAX_SEGMENT_S for g in groups):
            break
    return [dataclasses.replace(s, start=g[0].start, end=g[-1].end, words=g,
                                text=" ".join(w.word.strip() for w in g)) for g in groups]


def vector_problems(vectors: np.ndarray, dim: int, *, norm_tolerance: float = 1e-3) -> list[str]:
    """Embeddings must have the model's dimension and unit norm (cosine search assumes it)."""
    if vectors.size == 0:
        return []
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        return [f"embedding dimension {vectors.shape[-1]} != {dim}"]
    norms = np.linalg.norm(vectors, axis=1)
    bad = np.flatnonzero(np.abs(norms - 1.0) > norm_tolerance)
    return [f"{len(bad)} embeddings are not unit length (e.g. row {bad[0]}: {norms[bad[0]]:.4f})"] if len(bad) else []
