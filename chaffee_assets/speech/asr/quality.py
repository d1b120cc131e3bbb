"""Segment-quality rules shared by the asset checks and the tests (plain data in, problems out)."""

from __future__ import annotations

import numpy as np

from chaffee_assets.speech.records import Segment


def segment_problems(
    segments: list[Segment], duration_s: float, *, max_segment_s: float = 60.0, overlap_tolerance_s: float = 0.25
) -> list[str]:
    """Everything wrong with one video's speaker-labelled segments; empty when they are sound."""
    problems = []
    previous: Segment | None = None
    for i, s in enumerate(segments):
        where = f"segment {i} [{s.start:.2f}-{s.end:.2f}]"
        if not s.text.strip():
            problems.append(f"{where}: empty text")
        if not s.start < s.end:
            problems.append(f"{where}: start is not before end")
        if s.start < 0 or s.end > duration_s + 0.05:
            problems.append(f"{where}: outside the audio (0-{duration_s:.2f}s)")
        if s.end - s.start > max_segment_s:
            problems.append(f"{where}: longer than {max_segment_s:.0f}s")
        if not s.speaker:
            problems.append(f"{where}: no speaker")
        if previous is not None:
            if s.start < previous.start:
                problems.append(f"{where}: out of order")
            elif previous.end - s.start > overlap_tolerance_s:
                problems.append(f"{where}: overlaps the previous segment by {previous.end - s.start:.2f}s")
        previous = s
    return problems


def vector_problems(vectors: np.ndarray, dim: int, *, norm_tolerance: float = 1e-3) -> list[str]:
    """Embeddings must have the model's dimension and unit norm (cosine search assumes it)."""
    if vectors.size == 0:
        return []
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        return [f"embedding dimension {vectors.shape[-1]} != {dim}"]
    norms = np.linalg.norm(vectors, axis=1)
    bad = np.flatnonzero(np.abs(norms - 1.0) > norm_tolerance)
    return [f"{len(bad)} embeddings are not unit length (e.g. row {bad[0]}: {norms[bad[0]]:.4f})"] if len(bad) else []
