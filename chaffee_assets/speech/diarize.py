"""Offline speaker diarization: silero VAD -> voice-encoder windows -> KMeans, k chosen by silhouette.

Average-linkage clustering with a distance threshold collapses these embeddings to one speaker, so
the number of speakers is estimated by the silhouette score over k = 2..max_speakers, with a floor
below which the file is taken as a single voice.

Measured on the pyannote sample (30 s, 2 real speakers; DER at collar 0.25) and the demo corpus:
- Embeddings are centred on the file's mean before clustering. The encoder's vectors are all
  non-negative (ReLU + L2 norm), so raw cosines are dominated by what every window shares (channel,
  language). Raw, silhouette picked k=3..6 on the sample as soon as the hop or VAD settings moved
  (DER 0.30..0.45); centred, it picks k=2 under every hop 0.4..0.75 and VAD variant tried, while the
  monologues stay one speaker (best split silhouette 0.11..0.145 < 0.15; sample 0.21..0.28).
- Windows every 0.5 s instead of voice.HOP_S = 0.75 s: finer boundaries, DER 0.133 -> 0.101
  (collar 0: 0.211 -> 0.183). At 0.75 s a frame is often covered by one window of each speaker, so
  any vote over covering windows is decided by its tie-break (0.092 or 0.202 by label order alone);
  at <= 0.6 s nearest-centre, flat or centre-weighted votes all give 0.09..0.11, so the nearest
  window centre labels a frame.
  Median filtering and a minimum turn length changed nothing; VAD defaults were best.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from chaffee_assets.speech.vad import Region, speech_regions
from chaffee_assets.speech.voice import Profile, VoiceEncoder, Windows, unit, window_spans

FRAME_S = 0.05
HOP_S = 0.5  # diarization only; enrollment and the fast-path keep voice.HOP_S
SILHOUETTE_SAMPLE = 3000  # silhouette is O(n^2): score a seeded sample of windows on long files


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


def _centred(vectors: np.ndarray) -> np.ndarray:
    """Deviation from the file's average voice, on the unit sphere (KMeans then clusters by cosine)."""
    return unit(vectors - vectors.mean(axis=0))


def _kmeans(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(x)


@dataclass(frozen=True)
class SpeakerCount:
    """How the number of speakers is estimated from a file's voice windows.

    Attributes:
        max_speakers: largest k tried by KMeans.
        min_silhouette: a split below this silhouette is not convincing on its own.
        merge_at: clusters whose mean voices (uncentred) are at least this cosine-similar are one
            speaker. KMeans splits one dominant voice into look-alike halves (0.94-0.97 apart), two
            voices stay below (0.62-0.92 on the interview set, 0.88 on the pyannote sample).
        host_gap: with a host profile, a split whose host-most cluster matches the host by at least
            this much more than every other cluster has found the host beside someone else (0.05-0.31
            on the interview set; a host monologue cut in two: 0.002-0.004).
        min_windows: smallest cluster such a split may leave (8 windows: about 4 s of speech).
    """

    max_speakers: int = 6
    min_silhouette: float = 0.15
    merge_at: float = 0.93
    host_gap: float = 0.03
    min_windows: int = 8


def merge_similar(labels: np.ndarray, vectors: np.ndarray, at: float) -> np.ndarray:
    """Join the two clusters with the most similar mean voice while it reaches `at`; labels 0..k-1."""
    labels = labels.copy()
    while len(ks := np.unique(labels)) > 1:
        means = unit(np.stack([vectors[labels == k].mean(axis=0) for k in ks]))
        sims = means @ means.T
        np.fill_diagonal(sims, -1.0)
        a, b = np.unravel_index(int(sims.argmax()), sims.shape)
        if sims[a, b] < at:
            break
        labels[labels == ks[b]] = ks[a]
    return np.unique(labels, return_inverse=True)[1]


def host_distinct(labels: np.ndarray, vectors: np.ndarray, host: Profile, count: SpeakerCount) -> bool:
    """Whether one cluster is clearly the host and the others clearly not (each big enough)."""
    ks = np.unique(labels)
    if len(ks) < 2 or min(int((labels == k).sum()) for k in ks) < count.min_windows:
        return False
    sims = np.sort(unit(np.stack([vectors[labels == k].mean(axis=0) for k in ks])) @ host.vector)
    return bool(sims[-1] >= host.threshold and sims[-1] - sims[-2] >= count.host_gap)


def host_split(vectors: np.ndarray, host: Profile) -> np.ndarray:
    """Windows leaning towards the host (1) or away (0), measured from the file's average voice: the
    direction from that average to the host profile separates a host from a guest whose voices are too
    alike for KMeans (iv-04: host windows >= 0.42 along it, the guest's <= 0.15)."""
    mean = vectors.mean(axis=0)
    return ((unit(vectors - mean) @ unit(host.vector - mean)) > 0.2).astype(int)


def choose_k(vectors: np.ndarray, count: SpeakerCount = SpeakerCount(),
             host: Profile | None = None) -> tuple[np.ndarray, float | None, str]:
    """Cluster labels, the best silhouette and how the count was decided.

    KMeans for k = 2..max_speakers, each with look-alike clusters merged; the best silhouette wins when
    it reaches min_silhouette. Below that, a host profile is the prior: a candidate (or host_split) in
    which one cluster is clearly the host and another clearly not still counts; else one speaker.
    """
    from sklearn.metrics import silhouette_score

    x = _centred(vectors)
    n = len(x)
    sample = min(n, SILHOUETTE_SAMPLE)
    scored = []
    for k in range(2, min(count.max_speakers, n - 1) + 1):
        labels = merge_similar(_kmeans(x, k), vectors, count.merge_at)
        if len(np.unique(labels)) > 1:
            score = float(silhouette_score(x, labels, metric="cosine", sample_size=sample, random_state=0))
            scored.append((score, labels))
    best = max(scored, key=lambda c: c[0]) if scored else (None, None)
    if best[0] is not None and best[0] >= count.min_silhouette:
        return best[1], best[0], f"best split silhouette {best[0]:.3f}: {len(np.unique(best[1]))} speakers"
    one = np.zeros(n, dtype=int)
    low = f"best split silhouette {best[0]:.3f} < {count.min_silhouette}" if best[0] is not None else "every split merged"
    if host is None:
        return one, best[0], f"{low}: one speaker"
    for score, labels in sorted(scored, key=lambda c: -c[0]):
        if host_distinct(labels, vectors, host, count):
            return labels, score, f"{low}, but one cluster is clearly {host.name}: {len(np.unique(labels))} speakers"
    labels = host_split(vectors, host)
    if host_distinct(labels, vectors, host, count):
        return labels, best[0], f"{low}, but windows leaning to {host.name} are clearly apart: 2 speakers"
    return one, best[0], f"{low}, and no cluster stands apart as {host.name}: one speaker"


def fixed_k(vectors: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(vectors) <= k:
        return np.zeros(len(vectors), dtype=int)
    return _kmeans(_centred(vectors), k)


def frames_to_turns(regions: list[Region], windows: Windows, labels: np.ndarray) -> list[Turn]:
    """Give every speech frame the label of the window whose centre is nearest; merge runs into turns."""
    order = np.argsort(windows.spans.mean(axis=1))
    centres = np.append(windows.spans.mean(axis=1)[order], np.inf)
    turns: list[Turn] = []
    for r in regions:
        times = np.arange(r.start, r.end, FRAME_S) + FRAME_S / 2
        if times.size == 0:
            continue
        right = np.clip(np.searchsorted(centres, times), 1, len(centres) - 1)
        nearest = np.where(times - centres[right - 1] <= centres[right] - times, right - 1, right)
        frame_labels = labels[order[nearest]]
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
    count: SpeakerCount = SpeakerCount(),
    regions: list[Region] | None = None,
    host: Profile | None = None,
) -> Diarization:
    """Speaker turns of one recording; `host` (the host's voice profile) is the prior that tells a host
    from a look-alike guest when the clusters alone are not convincing (choose_k)."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    started = time.perf_counter()
    regions = speech_regions(audio) if regions is None else regions
    spans = window_spans(regions, hop_s=HOP_S)
    windows = Windows(spans, encoder.embed_spans(audio, spans))
    if len(windows) == 0:
        return Diarization([], {}, windows, np.zeros(0, dtype=int), compute_s=time.perf_counter() - started)
    score, notes = None, []
    # KMeans' OpenMP threads x BLAS threads oversubscribe a 2-core CPU: 7,200 windows 41 s -> 5 s
    with threadpool_limits(1):
        if num_speakers is not None:
            labels = fixed_k(windows.vectors, num_speakers)
        elif len(windows) < 4:
            labels = np.zeros(len(windows), dtype=int)
            notes.append(f"only {len(windows)} windows: one speaker")
        else:
            labels, score, how = choose_k(windows.vectors, count, host)
            notes.append(how)
    centroids = {f"SPK{k}": unit(windows.vectors[labels == k].mean(axis=0)) for k in sorted(set(labels))}
    turns = frames_to_turns(regions, windows, labels)
    return Diarization(turns, centroids, windows, labels, score, compute_s=time.perf_counter() - started, notes=notes)


def to_rttm(turns: list[Turn], file_id: str) -> str:
    return "".join(
        f"SPEAKER {file_id} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>\n" for t in turns
    )
