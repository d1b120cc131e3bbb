"""Retrieval units: consecutive same-speaker segments merged into bounded, sentence-ended chunks."""

from __future__ import annotations

from dataclasses import dataclass

from chaffee_assets.speech.records import Segment

SENTENCE_END = (".", "?", "!")


@dataclass
class Chunk:
    start: float
    end: float
    speaker: str
    speaker_conf: float
    text: str


def _close(run: list[Segment]) -> Chunk:
    weights = [max(s.end - s.start, 1e-3) for s in run]
    conf = sum((s.speaker_conf or 0.0) * w for s, w in zip(run, weights)) / sum(weights)
    return Chunk(run[0].start, run[-1].end, run[0].speaker or "", round(conf, 4), " ".join(s.text for s in run))


def chunk(segments: list[Segment], *, max_chars: int = 600, max_s: float = 45.0, min_chars: int = 200) -> list[Chunk]:
    """Merge in order; a chunk ends at a speaker change, or at a sentence end once it has min_chars,
    and never grows past max_chars or max_s (then it ends before the segment that would overflow)."""
    chunks: list[Chunk] = []
    run: list[Segment] = []
    size = 0
    for seg in segments:
        if run and (
            seg.speaker != run[-1].speaker
            or size + 1 + len(seg.text) > max_chars
            or seg.end - run[0].start > max_s
        ):
            chunks.append(_close(run))
            run, size = [], 0
        run.append(seg)
        size += len(seg.text) + (1 if size else 0)
        if size >= min_chars and seg.text.rstrip().endswith(SENTENCE_END):
            chunks.append(_close(run))
            run, size = [], 0
    if run:
        chunks.append(_close(run))
    return chunks
