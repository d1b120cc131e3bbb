"""Segment-quality rules shared by the speaker_labels step, the asset checks and the tests (plain data
in, problems out), and the per-segment judgement: a broken rule repairs or drops that segment, and a
video is refused only when what is left cannot be trusted."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import numpy as np

from chaffee_assets.speech.records import Segment

MAX_SEGMENT_S = 60.0
OVERLAP_TOLERANCE_S = 0.25
# A video is refused when segments covering more than this share of its transcribed speech time had to
# be dropped (README, "Segment quality", gives the figure behind it).
MAX_DROPPED_SHARE = 0.2
# ... or when the same text of at least LOOP_WORDS words fills LOOP_SEGMENTS segments in a row: a decoding
# loop the per-segment guards did not catch.
LOOP_SEGMENTS, LOOP_WORDS = 3, 4


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


def judge(segments: list[Segment], duration_s: float) -> Judged:
    """Repair what can be repaired (a segment longer than MAX_SEGMENT_S is split at its widest pauses
    between words), drop each segment that still breaks a rule of problems_by_segment, and refuse the
    video when more than MAX_DROPPED_SHARE of its speech time was dropped or a decoding loop remains."""
    judged = Judged([])
    for i, s in enumerate(segments):
        pieces = _split_long(s)
        if len(pieces) > 1:
            judged.repairs.append(f"segment {i} [{s.start:.2f}-{s.end:.2f}]: split in {len(pieces)} "
                                  f"(longer than {MAX_SEGMENT_S:.0f}s)")
        judged.segments.extend(pieces)
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
    elif loop := _loop(judged.segments):
        judged.refused = loop
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


def _loop(segments: list[Segment]) -> str | None:
    """A reason when LOOP_SEGMENTS segments in a row carry the same text of at least LOOP_WORDS words."""
    norm = [" ".join(re.findall(r"[a-z0-9']+", s.text.lower())) for s in segments]
    for i in range(len(norm) - LOOP_SEGMENTS + 1):
        same = norm[i]
        if len(same.split()) >= LOOP_WORDS and all(n == same for n in norm[i + 1 : i + LOOP_SEGMENTS]):
            s = segments[i]
            return (f"segments {i}-{i + LOOP_SEGMENTS - 1} from {s.start:.2f}s repeat {s.text.strip()[:60]!r}: "
                    "a decoding loop")
    return None


def vector_problems(vectors: np.ndarray, dim: int, *, norm_tolerance: float = 1e-3) -> list[str]:
    """Embeddings must have the model's dimension and unit norm (cosine search assumes it)."""
    if vectors.size == 0:
        return []
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        return [f"embedding dimension {vectors.shape[-1]} != {dim}"]
    norms = np.linalg.norm(vectors, axis=1)
    bad = np.flatnonzero(np.abs(norms - 1.0) > norm_tolerance)
    return [f"{len(bad)} embeddings are not unit length (e.g. row {bad[0]}: {norms[bad[0]]:.4f})"] if len(bad) else []
