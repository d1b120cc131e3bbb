"""Speaker identification against voice profiles, the monologue fast-path, and word -> speaker labels."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from chaffee_assets.speech.records import Segment, Word
from chaffee_assets.speech.speakers.diarize import Turn
from chaffee_assets.speech.speakers.host import HostRule
from chaffee_assets.speech.speakers.voice import Profile, VoiceEncoder, window_spans
from chaffee_assets.speech.vad import Region

GUEST = "GUEST"


@dataclass
class Match:
    name: str
    confidence: float  # cosine similarity to the chosen profile (or 1 - best similarity for a guest)
    best_similarity: float | None


def identify(
    centroids: dict[str, np.ndarray],
    profiles: dict[str, Profile],
    *,
    margin: float = 0.05,
    unknown: str = GUEST,
) -> dict[str, Match]:
    """Name each cluster: a profile names the cluster it matches best, above its threshold and `margin`
    above that cluster's runner-up profile; one voice is one cluster, so a profile names at most one
    (the closest) and the other clusters it matches are guests. A guest that sounds like the host
    (0.84-0.94 to the host profile on the interview set, over thresholds of 0.77-0.81) is then told
    apart by the host's own cluster matching better (0.90-0.99)."""
    candidates = []
    for cluster, vec in centroids.items():
        sims = sorted(((float(vec @ p.vector), p) for p in profiles.values()), key=lambda x: -x[0])
        runner_up = sims[1][0] if len(sims) > 1 else -1.0
        if sims and sims[0][0] >= sims[0][1].threshold and sims[0][0] - runner_up >= margin:
            candidates.append((sims[0][0], cluster, sims[0][1]))
    matches: dict[str, Match] = {}
    for similarity, cluster, profile in sorted(candidates, key=lambda c: -c[0]):
        if all(m.name != profile.name for m in matches.values()):
            matches[cluster] = Match(profile.name, similarity, similarity)
    for cluster, vec in centroids.items():
        if cluster not in matches:
            best = max((float(vec @ p.vector) for p in profiles.values()), default=None)
            matches[cluster] = Match(unknown, 1.0 - max(best or 0.0, 0.0), best)
    guests = [c for c in centroids if matches[c].name == unknown]
    if len(guests) > 1:  # several unknown voices stay distinguishable
        for i, cluster in enumerate(guests, 1):
            matches[cluster].name = f"{unknown}_{i}"
    return {c: matches[c] for c in centroids}


@dataclass
class FastPath:
    taken: bool
    reason: str
    similarity: float | None = None  # mean similarity of the sampled windows to the host profile
    min_similarity: float | None = None
    windows: int = 0
    compute_s: float = 0.0  # monologue_checks: this video's share of the batch's voice-encoder pass


def sample_spans(regions: list[Region], every_s: float, at_least: int) -> np.ndarray:
    """Voice windows spread evenly over the whole file's speech (not just its start)."""
    spans = window_spans(regions)
    if len(spans) == 0:
        return spans
    total = regions[-1].end - regions[0].start
    n = min(len(spans), max(at_least, int(total / every_s)))
    return spans[np.unique(np.linspace(0, len(spans) - 1, n).round().astype(int))]


def monologue_check(
    audio: np.ndarray,
    regions: list[Region],
    encoder: VoiceEncoder,
    host: Profile | None,
    *,
    every_s: float = 15.0,
    at_least: int = 24,
    min_windows: int = 8,
) -> FastPath:
    """Take the fast-path only when EVERY sampled window matches the host confidently."""
    if host is None:
        return FastPath(False, "no host voice profile")
    spans = sample_spans(regions, every_s, at_least)
    vectors = encoder.embed_spans(audio, spans) if len(spans) >= min_windows else None
    return verdict(spans, vectors, host, min_windows)


def monologue_checks(
    videos: Iterable[tuple[str, np.ndarray, list[Region]]],
    encoder: VoiceEncoder,
    host: Profile | None,
    *,
    every_s: float = 15.0,
    at_least: int = 24,
    min_windows: int = 8,
) -> dict[str, FastPath]:
    """monologue_check for a batch of (key, audio, regions), with ONE voice-encoder pass over every
    video's sampled windows. Only the windows' mel frames are kept, not the audio. Each FastPath's
    compute_s is its share of that pass, by window count. Empty without a host profile (the videos are
    not read)."""
    if host is None:
        return {}
    spans, mels = {}, {}
    for key, audio, regions in videos:
        spans[key] = sample_spans(regions, every_s, at_least)
        if len(spans[key]) >= min_windows:
            mels[key] = encoder.mels(audio, spans[key])
    started = time.perf_counter()
    vectors = encoder.embed_mels(np.concatenate(list(mels.values()))) if mels else None
    pass_s = time.perf_counter() - started
    checks, at = {}, 0
    total = sum(len(m) for m in mels.values())
    for key, these in spans.items():
        mine = None
        if key in mels:
            mine, at = vectors[at : at + len(these)], at + len(these)
        checks[key] = verdict(these, mine, host, min_windows)
        checks[key].compute_s = pass_s * len(these) / total if mine is not None else 0.0
    return checks


def verdict(spans: np.ndarray, vectors: np.ndarray | None, host: Profile, min_windows: int = 8,
            alone: float = HostRule.alone) -> FastPath:
    """The fast-path decision from the sampled windows' embeddings (None: too few windows to embed)."""
    if vectors is None or len(spans) < min_windows:
        return FastPath(False, f"too little speech to decide ({len(spans)} windows)", windows=len(spans))
    sims = vectors @ host.vector
    mean, low = float(sims.mean()), float(sims.min())
    if low < host.threshold:
        at = float(spans[int(sims.argmin())][0])
        return FastPath(
            False, f"window at {at:.1f}s is not the host (similarity {low:.2f} < {host.threshold:.2f})", mean, low, len(spans)
        )
    if float(np.median(sims)) < host.threshold + alone:  # one voice throughout, but not near enough (host.HostRule.alone)
        return FastPath(False, f"one voice, but its median similarity {float(np.median(sims)):.2f} < "
                               f"{host.threshold + alone:.2f} to {host.name}", mean, low, len(spans))
    return FastPath(True, f"all {len(spans)} sampled windows match {host.name} (min {low:.2f})", mean, low, len(spans))


def speaker_of(start: float, end: float, turns: list[Turn]) -> int | None:
    """Index of the turn overlapping [start, end] most; the nearest turn when none overlaps."""
    if not turns:
        return None
    starts = np.array([t.start for t in turns])
    ends = np.array([t.end for t in turns])
    overlap = np.minimum(ends, end) - np.maximum(starts, start)
    if overlap.max() > 0:
        return int(overlap.argmax())
    gap = np.maximum(starts - end, start - ends)
    return int(gap.argmin())


def label(segments: list[Segment], turns: list[Turn], matches: dict[str, Match]) -> list[Segment]:
    """Words get the speaker of the turn they overlap most; segments split where the speaker changes."""
    out: list[Segment] = []
    for seg in segments:
        words = seg.words or [Word(seg.start, seg.end, seg.text, 1.0)]
        labelled = []
        for w in words:
            i = speaker_of(w.start, w.end, turns)
            m = matches[turns[i].speaker] if i is not None else Match(GUEST, 0.0, None)
            labelled.append(dataclasses.replace(w, speaker=m.name, speaker_conf=round(m.confidence, 4)))
        run: list[Word] = []
        for w in labelled + [None]:
            if run and (w is None or w.speaker != run[-1].speaker):
                out.append(
                    dataclasses.replace(
                        seg,
                        start=run[0].start if seg.words else seg.start,
                        end=run[-1].end if seg.words else seg.end,
                        text=" ".join(x.word for x in run) if seg.words else seg.text,
                        words=run if seg.words else [],
                        speaker=run[0].speaker,
                        speaker_conf=float(np.mean([x.speaker_conf for x in run])),
                    )
                )
                run = []
            if w is not None:
                run.append(w)
    return [s for s in out if s.end > s.start and s.text.strip()]


def label_all(segments: list[Segment], name: str, confidence: float) -> list[Segment]:
    """The fast-path result: every word and segment is the host, with the measured similarity."""
    conf = round(confidence, 4)
    return [
        dataclasses.replace(
            s, speaker=name, speaker_conf=conf, words=[dataclasses.replace(w, speaker=name, speaker_conf=conf) for w in s.words]
        )
        for s in segments
    ]
