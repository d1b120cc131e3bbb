"""Offline speaker diarization: silero VAD -> voice-encoder windows -> KMeans, k chosen by silhouette.

Average-linkage clustering with a distance threshold collapses these embeddings to one speaker, so
the number of speakers is estimated by the silhouette score over k = 2..max_speakers, with a floor
below which the file is taken as a single voice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from chaffee_assets.speech.vad import Region, speech_regions
from chaffee_assets.speech.voice import VoiceEncoder, Windows, unit

FRAME_S = 0.05


@dataclass
class Turn:
    start: float
    end: float
    speaker: str  # cluster label, e.g. "SPK0"; speakers.identify maps it to a name


@dataclass
class Diarization:
    turns: list[Turn]
    centroids: dict[str, np.ndarray]
    windows: Windows
    labels: np.ndarray  # cluster label index per window
    silhouette: float | None = None
    method: str = "offline-kmeans"
    compute_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def n_speakers(self) -> int:
        return len(self.centroids)


def choose_k(vectors: np.ndarray, max_speakers: int, min_silhouette: float) -> tuple[np.ndarray, float | None]:
    """Cluster labels with k estimated by silhouette; one cluster when no split is convincing."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    best_labels, best_score = np.zeros(n, dtype=int), None
    for k in range(2, min(max_speakers, n - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(vectors)
        if len(set(labels)) < 2:
            continue
        score = float(silhouette_score(vectors, labels, metric="cosine"))
        if best_score is None or score > best_score:
            best_labels, best_score = labels, score
    if best_score is None or best_score < min_silhouette:
        return np.zeros(n, dtype=int), best_score
    return best_labels, best_score


def fixed_k(vectors: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    if k <= 1 or len(vectors) <= k:
        return np.zeros(len(vectors), dtype=int)
    return KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(vectors)


def frames_to_turns(regions: list[Region], windows: Windows, labels: np.ndarray) -> list[Turn]:
    """Give every speech frame the label of the window whose centre is nearest; merge runs into turns."""
    centres = windows.spans.mean(axis=1)
    turns: list[Turn] = []
    for r in regions:
        times = np.arange(r.start, r.end, FRAME_S) + FRAME_S / 2
        if times.size == 0:
            continue
        nearest = np.abs(times[:, None] - centres[None, :]).argmin(axis=1)
        frame_labels = labels[nearest]
        cuts = np.flatnonzero(np.diff(frame_labels)) + 1
        bounds = np.concatenate([[0], cuts, [len(times)]])
        for a, b in zip(bounds[:-1], bounds[1:]):
            start = r.start if a == 0 else float(times[a] - FRAME_S / 2)
            end = r.end if b == len(times) else float(times[b] - FRAME_S / 2)
            speaker = f"SPK{int(frame_labels[a])}"
            if turns and turns[-1].speaker == speaker and start - turns[-1].end < 1e-6:
                turns[-1].end = end
            else:
                turns.append(Turn(float(start), float(end), speaker))
    return turns


def diarize(
    audio: np.ndarray,
    encoder: VoiceEncoder,
    *,
    num_speakers: int | None = None,
    max_speakers: int = 6,
    min_silhouette: float = 0.15,
    regions: list[Region] | None = None,
) -> Diarization:
    started = time.perf_counter()
    regions = speech_regions(audio) if regions is None else regions
    windows = encoder.windows(audio, regions)
    if len(windows) == 0:
        return Diarization([], {}, windows, np.zeros(0, dtype=int), compute_s=time.perf_counter() - started)
    score = None
    if num_speakers is not None:
        labels = fixed_k(windows.vectors, num_speakers)
    elif len(windows) < 4:
        labels = np.zeros(len(windows), dtype=int)
    else:
        labels, score = choose_k(windows.vectors, max_speakers, min_silhouette)
    centroids = {f"SPK{k}": unit(windows.vectors[labels == k].mean(axis=0)) for k in sorted(set(labels))}
    turns = frames_to_turns(regions, windows, labels)
    return Diarization(turns, centroids, windows, labels, score, compute_s=time.perf_counter() - started)


def to_rttm(turns: list[Turn], file_id: str) -> str:
    return "".join(
        f"SPEAKER {file_id} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>\n" for t in turns
    )
