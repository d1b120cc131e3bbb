"""Speech regions for the diarizer: silero's default regions, which keep the pauses between turns, plus
what only a more sensitive setting finds (quiet, far-field speech) as regions of their own, with
near-digital silence trimmed from all of them.

Measured (issue #22, development sets): the sensitive setting alone (threshold 0.2) bridged the short
pauses between 1-3 s turns, so voice windows straddled two speakers. On the unseen-voice set it cost
host attribution 0.998 -> 0.988 (iv-02: 0.993 -> 0.910) and DER 0.006 -> 0.032, most of it false alarm
in the silence it swallowed. The default alone missed 24% of the development AMI speech.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chaffee_assets.speech.audio import SAMPLE_RATE
from chaffee_assets.speech.vad import FRAME, Region, speech_probs, speech_regions


@dataclass(frozen=True)
class SpeakerVad:
    """How the diarizer's speech regions are found.

    Attributes:
        sensitive: silero options (vad.regions) for the second, sensitive pass; what it finds outside
            the default regions is added.
        min_added_s: the shortest added stretch kept.
        silence_db: audio this far below the file's median speech level (RMS per silero frame) is
            silence, trimmed from every region; only near-digital silence is that quiet (a far-field
            AMI speaker is 10-25 dB below the near one).
        bridge_s: silent gaps inside a region shorter than this do not split it.
    """

    sensitive: dict = field(default_factory=lambda: {"threshold": 0.2, "min_speech_ms": 150})
    min_added_s: float = 0.15
    silence_db: float = 40.0
    bridge_s: float = 0.2
    voiced_s: float = float("inf")
    keep_pauses: bool = True


def outside(regions: list[Region], covered: list[Region], min_s: float) -> list[Region]:
    """The parts of `regions` that no region of `covered` overlaps, at least min_s long."""
    out = []
    for r in regions:
        start = r.start
        for c in covered:
            if c.end <= start or c.start >= r.end:
                continue
            if c.start - start >= min_s:
                out.append(Region(start, c.start))
            start = max(start, c.end)
        if r.end - start >= min_s:
            out.append(Region(start, r.end))
    return out


def frame_levels(audio: np.ndarray) -> np.ndarray:
    """RMS per silero frame."""
    n = -(-audio.size // FRAME)
    padded = np.pad(audio.astype(np.float32), (0, n * FRAME - audio.size))
    return np.sqrt(np.mean(padded.reshape(n, FRAME) ** 2, axis=1) + 1e-20)


def audible(audio: np.ndarray, regions: list[Region], reference: list[Region], vad: SpeakerVad) -> list[Region]:
    """`regions` without their silent frames (below the median level of `reference`'s frames by
    silence_db); a silent run shorter than bridge_s stays inside, a piece shorter than min_added_s goes."""
    levels = frame_levels(audio)
    frame_s = FRAME / SAMPLE_RATE
    speech = [levels[int(r.start / frame_s) : int(np.ceil(r.end / frame_s))] for r in reference]
    speech = np.concatenate(speech) if speech else levels
    if speech.size == 0:
        return regions
    loud = levels >= np.median(speech) * 10 ** (-vad.silence_db / 20)
    out = []
    for r in regions:
        first, last = int(r.start / frame_s), min(len(loud), int(np.ceil(r.end / frame_s)))
        idx = np.flatnonzero(loud[first:last]) + first
        if idx.size == 0:
            continue
        cuts = np.flatnonzero(np.diff(idx) * frame_s > vad.bridge_s)
        for a, b in zip(np.r_[0, cuts + 1], np.r_[cuts, idx.size - 1]):
            start, end = max(r.start, idx[a] * frame_s), min(r.end, (idx[b] + 1) * frame_s)
            if end - start >= vad.min_added_s:
                out.append(Region(float(start), float(end)))
    return out


@dataclass
class SpeakerRegions:
    """speech: every region the diarizer labels; voiced: the default regions (trimmed), where its voice
    windows are cut (a stretch only the sensitive pass finds takes the voice of its nearest window)."""

    speech: list[Region]
    voiced: list[Region]


def speaker_regions(audio: np.ndarray, probs: np.ndarray | None = None, vad: SpeakerVad = SpeakerVad()) -> SpeakerRegions:
    """The diarizer's speech regions (see the module docstring). probs: vad.speech_probs of this audio,
    when ASR already computed them."""
    if probs is None or len(probs) != -(-audio.size // FRAME):
        probs = speech_probs(audio)
    base = speech_regions(audio, probs)
    if not vad.keep_pauses:
        whole = audible(audio, speech_regions(audio, probs, **vad.sensitive), base, vad)
        return SpeakerRegions(whole, whole)
    added = outside(speech_regions(audio, probs, **vad.sensitive), base, vad.min_added_s)
    speech = audible(audio, sorted(base + added, key=lambda r: r.start), base, vad)
    long_added = [r for r in added if r.duration >= vad.voiced_s]
    voiced = audible(audio, sorted(base + long_added, key=lambda r: r.start), base, vad)
    return SpeakerRegions(speech, voiced)
