"""Who speaks when: the monologue fast-path or full diarization, then names on every word."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from chaffee_assets.speech import speakers
from chaffee_assets.speech.asr import Segment
from chaffee_assets.speech.diarize import Turn, diarize
from chaffee_assets.speech.vad import speech_regions
from chaffee_assets.speech.voice import Profile, VoiceEncoder

log = logging.getLogger(__name__)

MONOLOGUE = "monologue"
DIARIZED = "diarized"


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
) -> SpeakerTurns:
    """Fast-path when every sampled window is the host; any doubt or error means full diarization."""
    regions = speech_regions(audio)
    reason = "fast-path disabled" if not fast_path else "number of speakers given"
    if fast_path and num_speakers is None:
        try:
            check = speakers.monologue_check(audio, regions, encoder, host)
        except Exception as exc:  # a failing check must never label everything as the host
            log.warning("monologue check failed, diarizing instead: %s", exc)
            check = speakers.FastPath(False, f"monologue check failed: {exc}")
        if check.taken:
            assert host is not None
            turns = [Turn(r.start, r.end, host.name) for r in regions]
            return SpeakerTurns(MONOLOGUE, check.reason, turns, similarity=check.similarity)
        reason = check.reason
    d = diarize(audio, encoder, num_speakers=num_speakers, regions=regions)
    return SpeakerTurns(
        DIARIZED,
        reason,
        d.turns,
        {k: [float(x) for x in v] for k, v in d.centroids.items()},
        silhouette=d.silhouette,
        compute_s=d.compute_s,
    )


def attribute(segments: list[Segment], found: SpeakerTurns, profiles: dict[str, Profile]) -> list[Segment]:
    """Speaker name and confidence on every word and segment."""
    if found.path == MONOLOGUE:
        name = found.turns[0].speaker if found.turns else speakers.GUEST
        return speakers.label_all(segments, name, found.similarity or 0.0)
    centroids = {k: np.asarray(v, dtype=np.float32) for k, v in found.centroids.items()}
    return speakers.label(segments, found.turns, speakers.identify(centroids, profiles))
