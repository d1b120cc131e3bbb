"""Who speaks when: the monologue fast-path or full diarization, then names on every word."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from chaffee_assets.speech.records import Segment
from chaffee_assets.speech.speakers import labels
from chaffee_assets.speech.speakers.diarize import Diarization, Turn, diarize
from chaffee_assets.speech.speakers.regions import speaker_regions
from chaffee_assets.speech.speakers.voice import Profile, VoiceEncoder
from chaffee_assets.speech.vad import Region, speech_regions

log = logging.getLogger(__name__)

MONOLOGUE = "monologue"
DIARIZED = "diarized"
BACKENDS = ("offline", "pyannote", "auto")


@dataclass
class SpeakerTurns:
    """The diarization stage's result for one file."""

    path: str  # MONOLOGUE (fast-path) or DIARIZED
    reason: str  # why this path ran
    turns: list[Turn]
    centroids: dict[str, list[float]] = field(default_factory=dict)
    similarity: float | None = None  # fast-path: mean similarity of sampled windows to the host
    silhouette: float | None = None
    compute_s: float = 0.0
    diarizer: str | None = None  # DIARIZED: "offline" or "pyannote"
    host_checked: str | None = None  # the profile the diarizer decided every window against (no cluster may take it)

    @property
    def n_speakers(self) -> int:
        return len({t.speaker for t in self.turns})


def find_turns(
    audio: np.ndarray,
    encoder: VoiceEncoder,
    host: Profile | None,
    *,
    num_speakers: int | None = None,
    fast_path: bool = True,
    backend: str | None = None,
    speech_probs: np.ndarray | None = None,
    check: labels.FastPath | None = None,
) -> SpeakerTurns:
    """Fast-path when every sampled window is the host; any doubt or error means full diarization.

    backend: see run_diarizer (default: CHAFFEE_DIARIZER). speech_probs: this audio's silero
    probabilities when ASR already computed them (vad.speech_probs), so VAD does not run twice.
    check: this file's monologue check when it was made for a batch (labels.monologue_checks).
    """
    started = time.perf_counter() - (check.compute_s if check is not None else 0.0)  # its share of the batch
    regions = speech_regions(audio, speech_probs)  # the fast path's, as the batched checks use
    reason = "fast-path disabled" if not fast_path else "number of speakers given"
    if fast_path and num_speakers is None:
        try:
            check = check or labels.monologue_check(audio, regions, encoder, host)
        except Exception as exc:  # a failing check must never label everything as the host
            log.warning("monologue check failed, diarizing instead: %s", exc)
            check = labels.FastPath(False, f"monologue check failed: {exc}")
        if check.taken:
            assert host is not None
            return monologue_turns(regions, host, check, time.perf_counter() - started)
        reason = check.reason
    found = speaker_regions(audio, speech_probs)
    d, used, fallback = run_diarizer(audio, encoder, backend, num_speakers=num_speakers, regions=found.speech,
                                     voiced=found.voiced, host=host)
    return SpeakerTurns(
        DIARIZED,
        "; ".join([reason, *([fallback] if fallback else []), *d.notes]),
        d.turns,
        {k: [float(x) for x in v] for k, v in d.centroids.items()},
        silhouette=d.silhouette,
        compute_s=time.perf_counter() - started,
        diarizer=used,
        host_checked=d.host_checked,
    )


def monologue_turns(regions: list[Region], host: Profile, check: labels.FastPath, compute_s: float) -> SpeakerTurns:
    """The fast-path record: every speech region is the host's."""
    return SpeakerTurns(MONOLOGUE, check.reason, [Turn(r.start, r.end, host.name) for r in regions],
                        similarity=check.similarity, compute_s=compute_s)


def run_diarizer(
    audio: np.ndarray, encoder: VoiceEncoder, backend: str | None = None, *, num_speakers: int | None = None,
    regions=None, voiced=None, host: Profile | None = None,
) -> tuple[Diarization, str, str | None]:
    """(diarization, backend used, why pyannote was skipped or None).

    offline: VAD + voice windows + KMeans (diarize.py). pyannote: pyannote.audio, and an error naming the
    missing piece (pyannote_adapter.PyannoteUnavailable) when it cannot run. auto: pyannote when it can
    run, else the offline diarizer with the reason logged and returned.
    """
    from chaffee_assets.settings import get_settings

    settings = get_settings()
    backend = backend or settings.diarizer
    if backend not in BACKENDS:
        raise ValueError(f"unknown diarizer {backend!r} (CHAFFEE_DIARIZER): use one of {', '.join(BACKENDS)}")
    fallback = None
    if backend != "offline":
        from chaffee_assets.speech.speakers import pyannote_adapter

        try:
            d = pyannote_adapter.diarize(audio, encoder, model=settings.pyannote_model, device=settings.device,
                                         num_speakers=num_speakers)
            return d, "pyannote", None
        except pyannote_adapter.PyannoteUnavailable as exc:
            if backend == "pyannote":
                raise
            fallback = f"pyannote unavailable, offline diarizer used: {exc}"
            log.warning(fallback)
    d = diarize(audio, encoder, num_speakers=num_speakers, regions=regions, voiced=voiced, host=host)
    return d, "offline", fallback


def attribute(segments: list[Segment], found: SpeakerTurns, profiles: dict[str, Profile]) -> list[Segment]:
    """Speaker name and confidence on every word and segment."""
    if found.path == MONOLOGUE:
        name = found.turns[0].speaker if found.turns else labels.GUEST
        return labels.label_all(segments, name, found.similarity or 0.0)
    return labels.label(segments, found.turns, matches_of(found, profiles))


def matches_of(found: SpeakerTurns, profiles: dict[str, Profile]) -> dict[str, labels.Match]:
    """The name of each of found's diarized turn labels. A label that is already a profile's name (the
    host, decided window by window in diarize.name_host) keeps it; the other clusters are matched to
    the remaining profiles (labels.identify), never to the profile the diarizer already decided every
    window against (host_checked), so a look-alike guest or stranger cannot take the host's name."""
    centroids = {k: np.asarray(v, dtype=np.float32) for k, v in found.centroids.items()}
    decided = {k: labels.Match(k, float(centroids[k] @ profiles[k].vector), None) for k in centroids if k in profiles}
    rest = {k: p for k, p in profiles.items() if k not in decided and k != found.host_checked}
    others = {k: v for k, v in centroids.items() if k not in decided}
    for m in decided.values():
        m.best_similarity = m.confidence
    return {**decided, **(labels.identify(others, rest) if others else {})}


def names_of(found: SpeakerTurns, profiles: dict[str, Profile]) -> dict[str, str]:
    """The name each of found's turn labels stands for (the names `attribute` writes on words)."""
    if found.path == MONOLOGUE:
        return {t.speaker: t.speaker for t in found.turns}
    return {k: m.name for k, m in matches_of(found, profiles).items()}
