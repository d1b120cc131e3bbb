"""How many speakers a recording's voice windows hold, and which window is whose.

Average-linkage clustering with a distance threshold collapses these embeddings to one speaker, so
KMeans is run for k = 2..max_speakers and scored by silhouette, with a floor below which no split is
convincing on its own. Measured on the pyannote sample and the demo corpus:
- Embeddings are centred on the file's mean before clustering. The encoder's vectors are all
  non-negative (ReLU + L2 norm), so raw cosines are dominated by what every window shares (channel,
  language). Raw, silhouette picked k=3..6 on the sample as soon as the hop or VAD settings moved
  (DER 0.30..0.45); centred, it picks k=2 under every hop 0.4..0.75 and VAD variant tried, while the
  monologues stay one speaker (best split silhouette 0.11..0.145 < 0.15; sample 0.21..0.28).
Measured on the unseen-voices interview set (scripts/synth_interviews.py, `make eval-speakers`): the
silhouette floor alone got the count right in 10 of 16 files (mean DER 0.128). A dominant voice was cut
into look-alike clusters that each passed the floor (6 speakers in a 5-minute interview), and a guest
who sounds like the host never did (best silhouette 0.136). merge_similar and the host prior (below)
got 16 of 16 (mean DER 0.007); sample.wav is unchanged (k=2, DER 0.101).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chaffee_assets.speech.speakers.voice import Profile, unit

SILHOUETTE_SAMPLE = 3000  # silhouette is O(n^2): score a seeded sample of windows on long files


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
            speaker. KMeans splits one dominant voice into look-alike halves (0.94-0.97 apart on
            generated speech; 0.82-0.93 on short real utterances), two voices mostly stay below
            (0.62-0.92 on the interview set, 0.88 on the pyannote sample, 0.64-0.92 on AMI excerpts).
            0.93 -> 0.90 with min_cluster 8 (grid on the development set): one real voice stays one
            speaker in 13 of 16 utterances (was 5 with 0.93/6), generated strangers 6 of 6 (4).
        host_gap: with a host profile, a split whose host-most cluster matches the host by at least
            this much more than every other cluster has found the host beside someone else (0.05-0.31
            on the interview set; a host monologue cut in two: 0.002-0.004).
        min_windows: smallest cluster such a split may leave (8 windows: about 4 s of speech).
        lean: how far along the direction from the file's average voice to the host a window must be
            to lean to the host (host_split; iv-04: the host's windows >= 0.42, the guest's <= 0.15).
        min_cluster: the fewest windows (0.5 s hop: 6 = about 3 s of speech) a speaker may have; smaller
            clusters join the nearest bigger one, and no more speakers are tried than the file's windows
            allow at that size (short files: KMeans on 10-30 windows of ONE real voice found 4-6
            "speakers" with silhouettes 0.26-0.47, 15 of 16 development utterances).
        hostless_silhouette, hostless_windows: with a host profile, a split of a short file (under
            hostless_windows: 20 s of speech) in which no cluster is near the host (strangers only) needs
            this silhouette: one real voice in 10-15 s still split at 0.20-0.32 (3 of 16 development
            LibriSpeech utterances). Development interviews, which have the host in them, need only
            min_silhouette (their short ones score 0.30-0.42), and so does sample.wav (two strangers,
            30 s, 0.26).
    """

    max_speakers: int = 6
    min_silhouette: float = 0.15
    merge_at: float = 0.90
    host_gap: float = 0.03
    min_windows: int = 8
    lean: float = 0.2
    min_cluster: int = 8
    hostless_silhouette: float = 0.35
    hostless_windows: int = 40


def mean_voices(labels: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Each cluster's mean voice (uncentred, unit length), in label order."""
    return unit(np.stack([vectors[labels == k].mean(axis=0) for k in np.unique(labels)]))


def absorb_small(labels: np.ndarray, vectors: np.ndarray, at_least: int) -> np.ndarray:
    """Give the windows of clusters under at_least windows to the nearest bigger cluster; labels 0..k-1."""
    labels = labels.copy()
    ks, sizes = np.unique(labels, return_counts=True)
    big = ks[sizes >= at_least]
    if len(big) == 0:
        return np.zeros(len(labels), dtype=int)
    means = unit(np.stack([vectors[labels == k].mean(axis=0) for k in big]))
    small = ~np.isin(labels, big)
    labels[small] = big[(vectors[small] @ means.T).argmax(axis=1)]
    return np.unique(labels, return_inverse=True)[1]


def merge_similar(labels: np.ndarray, vectors: np.ndarray, at: float) -> np.ndarray:
    """Join the two clusters with the most similar mean voice while it reaches `at`; labels 0..k-1."""
    labels = labels.copy()
    while len(ks := np.unique(labels)) > 1:
        means = mean_voices(labels, vectors)
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
    sims = np.sort(mean_voices(labels, vectors) @ host.vector)
    return bool(sims[-1] >= host.threshold and sims[-1] - sims[-2] >= count.host_gap)


def host_present(labels: np.ndarray, vectors: np.ndarray, host: Profile) -> bool:
    """Whether any cluster's windows average at least the host profile's threshold."""
    scores = vectors @ host.vector
    return bool(max(scores[labels == k].mean() for k in np.unique(labels)) >= host.threshold)


def host_split(vectors: np.ndarray, host: Profile, lean: float) -> np.ndarray:
    """Windows leaning towards the host (1) or away (0), measured from the file's average voice: the
    direction from that average to the host profile separates a host from a guest whose voices are too
    alike for KMeans."""
    mean = vectors.mean(axis=0)
    return ((unit(vectors - mean) @ unit(host.vector - mean)) > lean).astype(int)


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
    for k in range(2, min(count.max_speakers, n - 1, n // count.min_cluster) + 1):
        labels = absorb_small(_kmeans(x, k), vectors, count.min_cluster)
        labels = merge_similar(labels, vectors, count.merge_at)
        if len(np.unique(labels)) > 1:
            score = float(silhouette_score(x, labels, metric="cosine", sample_size=sample, random_state=0))
            scored.append((score, labels))
    best = max(scored, key=lambda c: c[0]) if scored else (None, None)
    if best[0] is not None and best[0] >= count.min_silhouette:
        if (host is not None and n < count.hostless_windows and best[0] < count.hostless_silhouette
                and not host_present(best[1], vectors, host)):
            return np.zeros(n, dtype=int), best[0], (f"best split silhouette {best[0]:.3f} < {count.hostless_silhouette} "
                                                     f"with no cluster {host.name}: one speaker")
        return best[1], best[0], f"best split silhouette {best[0]:.3f}: {len(np.unique(best[1]))} speakers"
    one = np.zeros(n, dtype=int)
    low = f"best split silhouette {best[0]:.3f} < {count.min_silhouette}" if best[0] is not None else "every split merged"
    if host is None:
        return one, best[0], f"{low}: one speaker"
    for score, labels in sorted(scored, key=lambda c: -c[0]):
        if host_distinct(labels, vectors, host, count):
            return labels, score, f"{low}, but one cluster is clearly {host.name}: {len(np.unique(labels))} speakers"
    labels = host_split(vectors, host, count.lean)
    if host_distinct(labels, vectors, host, count):
        return labels, best[0], f"{low}, but windows leaning to {host.name} are clearly apart: 2 speakers"
    return one, best[0], f"{low}, and no cluster stands apart as {host.name}: one speaker"


def fixed_k(vectors: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(vectors) <= k:
        return np.zeros(len(vectors), dtype=int)
    return _kmeans(_centred(vectors), k)
