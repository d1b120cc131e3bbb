"""Offline speaker diarization: silero VAD -> voice-encoder windows -> clusters (count.py) ->
turns.

Measured on the pyannote sample (30 s, 2 real speakers; DER at collar 0.25) and the demo corpus:
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

from chaffee_assets.speech.speakers.count import SpeakerCount, absorb_small, choose_k, fixed_k
from chaffee_assets.speech.speakers.host import HostRule, host_windows
from chaffee_assets.speech.speakers.voice import Profile, VoiceEncoder, Windows, unit, window_spans
from chaffee_assets.speech.vad import Region, speech_regions

FRAME_S = 0.05
HOP_S = 0.5  # diarization only; enrollment and the fast-path keep voice.HOP_S


@dataclass
class Turn:
    start: float
    end: float
    speaker: str  # cluster label, e.g. "SPK0"; labels.identify maps it to a name


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
    host_checked: str | None = None  # the profile whose windows were decided against it (name_host)

    @property
    def n_speakers(self) -> int:
        return len(self.centroids)


def frames_to_turns(regions: list[Region], windows: Windows, labels: np.ndarray,
                    names: dict[int, str] | None = None) -> list[Turn]:
    """Give every speech frame the label of the window whose centre is nearest; merge runs into turns.
    A turn's speaker is names[label], or SPK<label> for labels not in names."""
    names = names or {}
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
            speaker = names.get(int(frame_labels[a]), f"SPK{int(frame_labels[a])}")
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
    voiced: list[Region] | None = None,
    host: Profile | None = None,
    host_rule: HostRule = HostRule(),
) -> Diarization:
    """Speaker turns of one recording. With `host` (the host's voice profile) the host's windows are
    decided against the profile (host.host_windows), whatever the clustering found, and their turns
    carry host.name; the clusters then tell the other voices apart. `host` is also the prior that tells
    a host from a look-alike guest when the clusters alone are not convincing (choose_k)."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    started = time.perf_counter()
    regions = speech_regions(audio) if regions is None else regions
    spans = window_spans(regions if voiced is None else voiced, hop_s=HOP_S)
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
    names: dict[int, str] = {}
    if host is not None and num_speakers is None:
        labels, names, how = name_host(windows, labels, host, host_rule, count.min_cluster)
        notes.append(how)
    centroids = {names.get(int(k), f"SPK{k}"): unit(windows.vectors[labels == k].mean(axis=0)) for k in sorted(set(labels))}
    turns = frames_to_turns(regions, windows, labels, names)
    return Diarization(turns, centroids, windows, labels, score, compute_s=time.perf_counter() - started, notes=notes,
                       host_checked=host.name if host is not None and num_speakers is None else None)


def name_host(windows: Windows, labels: np.ndarray, host: Profile, rule: HostRule,
              min_cluster: int) -> tuple[np.ndarray, dict[int, str], str]:
    """(labels, {label: host.name}, note): the host's windows become one label named after the profile;
    the other clusters keep theirs, those left under min_cluster windows joining the nearest other."""
    is_host, how = host_windows(windows.vectors, windows.spans.mean(axis=1), labels, host, rule)
    if not is_host.any():
        return labels, {}, how
    out = np.full(len(labels), -1)
    if (~is_host).any():
        guests = labels[~is_host]
        if len(np.unique(guests)) > 1:
            guests = absorb_small(guests, windows.vectors[~is_host], min_cluster)
        out[~is_host] = np.unique(guests, return_inverse=True)[1]
    host_label = int(out.max()) + 1
    out[is_host] = host_label
    return out, {host_label: host.name}, how


def to_rttm(turns: list[Turn], file_id: str) -> str:
    return "".join(
        f"SPEAKER {file_id} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>\n" for t in turns
    )
