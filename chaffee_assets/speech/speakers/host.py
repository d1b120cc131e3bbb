"""Which voice windows are the host's, decided against the host's profile, whatever the clustering did.

Clustering (count.py) tells voices apart; it does not decide who the host is. Every window is scored
against the host profile; the clusters whose mean voice reaches `accept` and lies within `host_gap` of the
most host-like cluster are the host's (a host KMeans cut into several clusters: all of them). From those
windows comes the file's own host voice; every window is then the host's when its time-smoothed score
leans to that host voice more than to any other cluster's (`margin`), so a window the clustering put in
the wrong cluster is still named right. A guest who sounds like the host (0.82-0.85 to the profile on
the development set, while the host's own clusters reach 0.87-0.91) is one cluster below the host's by
more than host_gap, and its windows lean to its own voice. A stranger alone (no cluster reaches accept)
is never the host.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chaffee_assets.speech.speakers.voice import Profile, unit


@dataclass(frozen=True)
class HostRule:
    """How windows are given to the host.

    Attributes:
        alone: with one voice in the file (one cluster), its median window score must reach the
            profile's threshold by this much to be the host; beside other voices, the host's clusters
            need only the threshold (the contrast decides). The profile's threshold is calibrated at
            enrollment (a low percentile of its own windows, minus 0.05). Development sets: a host alone
            sits 0.075-0.094 above its threshold, strangers alone at most 0.063 (near-clones of the demo
            host: 0.056, 0.063), so 0.068. A fixed level (0.85) missed a 20.7 s host at 0.84 and the
            unseen-voice set's iv-08 (0.82, threshold 0.81): host attribution 0.58.
        min_guest: in a file whose every cluster is the host's, the fewest windows under the profile's
            threshold (after smoothing) that are taken for a guest (2 cut a lone host in two on dev).
        dip, distinct: in such a file, windows whose smoothed score is `dip` under the file's median are
            another voice when their mean voice is below `distinct` cosine to the rest's. Development
            sets: guests' dips 0.71-0.85 (a look-alike guest merged into its host's cluster: 0.848),
            a host's own dips 0.874-0.926.
        host_gap: a cluster whose mean voice (unit length) is within this of the most host-like
            cluster's similarity to the profile is the host's as well (a host cut in two: 0.002-0.004
            apart; a look-alike guest beside its host: 0.05-0.31, unseen-voice set iv-04: per-window
            means were too close, 0.127 host attribution with a 0.04 gap on those).
        margin: how much more a window's smoothed score must lean to the file's host voice than to the
            closest other voice.
        smooth: windows either side averaged over time (0.5 s hop: 1 = 1.5 s of speech).
    """

    alone: float = 0.068
    min_guest: int = 3
    dip: float = 0.05
    distinct: float = 0.86
    host_gap: float = 0.03
    margin: float = 0.0
    smooth: int = 1


def smoothed(scores: np.ndarray, centres: np.ndarray, width: int, max_gap_s: float = 1.0) -> np.ndarray:
    """Moving average over `width` windows either side (in time order), not across pauses > max_gap_s."""
    order = np.argsort(centres)
    s, c = scores[order], centres[order]
    out = np.empty_like(s)
    for i in range(len(s)):
        lo, hi = i, i
        while lo > 0 and i - lo < width and c[lo] - c[lo - 1] <= max_gap_s:
            lo -= 1
        while hi < len(s) - 1 and hi - i < width and c[hi + 1] - c[hi] <= max_gap_s:
            hi += 1
        out[i] = s[lo : hi + 1].mean()
    result = np.empty_like(out)
    result[order] = out
    return result


def host_clusters(vectors: np.ndarray, labels: np.ndarray, host: Profile, rule: HostRule) -> list[int]:
    """The cluster labels whose mean voice is the host's (possibly none, possibly several)."""
    ks = np.unique(labels)
    scores = vectors @ host.vector
    if len(ks) == 1:
        return [int(ks[0])] if np.median(scores) >= host.threshold + rule.alone else []
    if max(scores[labels == k].mean() for k in ks) < host.threshold:
        return []
    sims = unit(np.stack([vectors[labels == k].mean(axis=0) for k in ks])) @ host.vector
    return [int(k) for k, s in zip(ks, sims) if s >= sims.max() - rule.host_gap]


def host_windows(vectors: np.ndarray, centres: np.ndarray, labels: np.ndarray, host: Profile,
                 rule: HostRule = HostRule()) -> tuple[np.ndarray, str]:
    """(is-host per window, how it was decided)."""
    mine = host_clusters(vectors, labels, host, rule)
    if not mine:
        best = float((unit(vectors.mean(axis=0)) @ host.vector))
        return np.zeros(len(vectors), dtype=bool), f"no voice here is {host.name} (file voice {best:.2f})"
    in_host = np.isin(labels, mine)
    if in_host.all():
        return lone_host(vectors, centres, host, rule)
    others = [unit(vectors[labels == k].mean(axis=0)) for k in np.unique(labels[~in_host])]
    is_host = leaning(vectors, centres, in_host, others, host, rule)
    moved = int((is_host != in_host).sum())
    return is_host, (f"{len(mine)} cluster(s) are {host.name}; {int(is_host.sum())} of {len(vectors)} windows "
                     f"theirs ({moved} moved by their own score)")


def leaning(vectors: np.ndarray, centres: np.ndarray, in_host: np.ndarray, others: list[np.ndarray], host: Profile,
            rule: HostRule) -> np.ndarray:
    """Windows whose time-smoothed similarity leans to the file's host voice (the in_host windows' mean,
    anchored to the profile) more than to any of the other voices, by rule.margin."""
    own = unit(unit(vectors[in_host].mean(axis=0)) + host.vector)
    lean = vectors @ own - np.max(np.stack([vectors @ g for g in others]), axis=0)
    return smoothed(lean, centres, rule.smooth) > rule.margin


def lone_host(vectors: np.ndarray, centres: np.ndarray, host: Profile, rule: HostRule) -> tuple[np.ndarray, str]:
    """(is-host per window, how) when every cluster is the host's: a guest too brief or too alike for a
    cluster of its own is found as a dip, windows whose smoothed score is rule.dip under the file's
    median, when the dip's mean voice stands apart from the rest (below rule.distinct); else the windows
    under the profile's threshold are the guest's, when there are rule.min_guest of them."""
    scores = vectors @ host.vector
    level = smoothed(scores, centres, rule.smooth)
    dip = level < np.median(scores) - rule.dip
    if dip.sum() >= rule.min_guest:
        apart = float(unit(vectors[dip].mean(axis=0)) @ unit(vectors[~dip].mean(axis=0)))
        if apart < rule.distinct:
            is_host = leaning(vectors, centres, ~dip, [unit(vectors[dip].mean(axis=0))], host, rule)
            return is_host, (f"every cluster here is {host.name}, but {int(dip.sum())} windows dip to another voice "
                             f"({apart:.2f}); {int((~is_host).sum())} windows a guest's")
    is_host = level >= host.threshold
    if (~is_host).sum() < rule.min_guest:
        return np.ones(len(vectors), dtype=bool), f"every voice here is {host.name}"
    return is_host, f"every cluster here is {host.name}; {int((~is_host).sum())} windows below its threshold"
