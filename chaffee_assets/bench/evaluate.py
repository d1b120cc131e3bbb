"""Quality against references: WER (jiwer), DER (pyannote.metrics) and speaker-attribution accuracy.

WER normalisation, applied to the reference and the hypothesis alike: lowercase; hyphens and dashes
become spaces ("low-carb" = "low carb"); every other punctuation mark is deleted ("didn't" -> "didnt"
on both sides); whitespace collapsed. DER: pyannote.metrics' DiarizationErrorRate with overlapped
speech scored (skip_overlap=False) over the whole file, UEM [0, duration]. Its collar is the total
width around each reference boundary: collar 0.25 forgives 0.125 s on either side (NIST md-eval's
`-c 0.25` forgives 0.25 s on either side, i.e. pyannote's collar 0.5). jiwer, pyannote.metrics and
pyannote.core are imported inside the functions, so `chaffee --help` stays fast.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chaffee_assets.speech.speakers.diarize import Turn

log = logging.getLogger(__name__)
COLLARS = (0.0, 0.25)


@dataclass
class WerResult:
    wer: float
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int


def load_stm(path: str | Path) -> str:
    """The reference text of an STM file: text fields in time order; ';;' comment lines ignored."""
    rows = []
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.startswith(";;"):
            continue
        parts = line.split(maxsplit=5)  # file channel speaker start end [<label>] text
        text = parts[5] if len(parts) == 6 else ""
        if text.startswith("<") and ">" in text:
            text = text.split(">", 1)[1]
        if text.strip().upper() != "IGNORE_TIME_SEGMENT_IN_SCORING":
            rows.append((float(parts[3]), text.strip()))
    return " ".join(t for _start, t in sorted(rows, key=lambda r: r[0]) if t)


def load_rttm(path: str | Path):
    """SPEAKER lines of an RTTM file as a pyannote.core Annotation (one per file: the first file id)."""
    from pyannote.core import Annotation, Segment

    annotation = None
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if len(f) < 8 or f[0] != "SPEAKER":
            continue
        annotation = annotation if annotation is not None else Annotation(uri=f[1])
        start = float(f[3])
        annotation[Segment(start, start + float(f[4])), len(annotation)] = f[7]
    return annotation if annotation is not None else Annotation(uri=Path(path).stem)


def _normaliser():
    import jiwer

    return jiwer.Compose([
        jiwer.ToLowerCase(),
        jiwer.SubstituteRegexes({r"[-\u2010-\u2015]": " "}),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ])


def wer(reference: str, hypothesis: str) -> WerResult:
    import jiwer

    norm = _normaliser()
    if not any(norm(reference)):
        raise ValueError("the reference has no words after normalisation")
    out = jiwer.process_words(reference, hypothesis, reference_transform=norm, hypothesis_transform=norm)
    ref_words = out.hits + out.substitutions + out.deletions
    return WerResult(float(out.wer), out.substitutions, out.deletions, out.insertions, ref_words)


def turns_annotation(turns: Iterable[Turn], uri: str = "hypothesis"):
    from pyannote.core import Annotation, Segment

    annotation = Annotation(uri=uri)
    for i, t in enumerate(turns):
        if t.end > t.start:
            annotation[Segment(t.start, t.end), i] = t.speaker
    return annotation


def der(reference, turns: Iterable[Turn], duration: float, collar: float = 0.0) -> float:
    """Diarization error rate of `turns` against a reference Annotation, over [0, duration]."""
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    return float(metric(reference, turns_annotation(turns), uem=Timeline([Segment(0.0, duration)])))


def der_parts(reference, turns: Iterable[Turn], duration: float, collar: float = 0.25) -> dict:
    """DER and its parts (miss, false alarm, confusion), each a share of reference speech time."""
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    d = metric(reference, turns_annotation(turns), uem=Timeline([Segment(0.0, duration)]), detailed=True)
    total = max(d["total"], 1e-9)
    return {"der": round(float(d["diarization error rate"]), 4), "miss": round(d["missed detection"] / total, 4),
            "false_alarm": round(d["false alarm"] / total, 4), "confusion": round(d["confusion"] / total, 4)}


def attribution_accuracy(reference, words: Iterable, names: Iterable[str]) -> float | None:
    """Fraction of reference speech time (covered by words) whose words carry the reference speaker's name.

    words: objects with start, end and speaker. Reference labels are matched to `names` ignoring case
    (HOST -> host); None when some reference label matches no name, or when no word overlaps the speech.
    """
    by_lower = {n.lower(): n for n in names}
    if not all(label.lower() in by_lower for label in reference.labels()):
        return None
    words = [w for w in words if w.end > w.start]
    starts = np.array([w.start for w in words])
    ends = np.array([w.end for w in words])
    said = np.array([w.speaker for w in words], dtype=object)
    correct = total = 0.0
    for seg, _track, label in reference.itertracks(yield_label=True):
        overlap = np.clip(np.minimum(ends, seg.end) - np.maximum(starts, seg.start), 0.0, None)
        total += float(overlap.sum())
        correct += float(overlap[said == by_lower[label.lower()]].sum())
    return correct / total if total > 0 else None


def host_attribution(reference, turns: list[Turn], names: dict[str, str], host: str, step_s: float = 0.01) -> float:
    """Fraction of reference speech time (a frame every step_s) whose host / not-host label is right.

    Each frame takes the name (`names[turn.speaker]`) of the hypothesis turn covering it, else of the
    nearest turn (as words are labelled); a frame with no turn at all is wrong. Reference labels are
    matched to `host` ignoring case. Guests are not told apart here: DER scores that.
    """
    order = sorted((t for t in turns if t.end > t.start), key=lambda t: t.start)
    starts = np.array([t.start for t in order])
    ends = np.array([t.end for t in order])
    is_host = np.array([names.get(t.speaker, "").casefold() == host.casefold() for t in order] + [False])
    right = total = 0
    for seg, _track, label in reference.itertracks(yield_label=True):
        times = np.arange(seg.start, seg.end, step_s) + step_s / 2
        total += times.size
        if not order:
            continue
        at = np.clip(np.searchsorted(starts, times, "right") - 1, 0, len(order) - 1)
        after = np.minimum(at + 1, len(order) - 1)
        inside = (times >= starts[at]) & (times < ends[at])
        nearer_next = (starts[after] - times) < (times - ends[at])
        said = is_host[np.where(inside | ~nearer_next, at, after)]
        right += int((said == (label.casefold() == host.casefold())).sum())
    return right / total if total else 1.0


def evaluate_speakers(samples: np.ndarray, reference, encoder, host, profiles: dict) -> dict:
    """The production speaker path on one file (fast path or diarization, then naming; no ASR),
    scored against a reference Annotation: DER at collar 0.25 and host attribution."""
    from chaffee_assets.speech.speakers.attribution import find_turns, names_of

    found = find_turns(samples, encoder, host)
    names = names_of(found, profiles)
    duration = samples.size / 16000
    return {
        "der": round(der(reference, found.turns, duration, 0.25), 4),
        "host_attribution": round(host_attribution(reference, found.turns, names, host.name), 4),
        "speakers_found": len({names[t.speaker] for t in found.turns}),
        "speakers_true": len(reference.labels()),
        "path": found.path,
        "reason": found.reason,
        "compute_s": round(found.compute_s, 3),
    }


def evaluate_file(path: str | Path, reference_text: str, rttm: str | Path, settings, *,
                  num_speakers: int | None = None) -> dict:
    """The production path on one file (ASR, then find_turns and attribute), scored against references."""
    from chaffee_assets.speech import audio, models
    from chaffee_assets.speech.speakers.attribution import attribute, find_turns
    from chaffee_assets.speech.speakers.labels import GUEST
    from chaffee_assets.speech.speakers.voice import find_profile, load_profiles

    samples = audio.load(path)
    duration = samples.size / audio.SAMPLE_RATE
    profiles, problems = load_profiles(settings.voices_dir)
    for p in problems:
        log.warning(p)
    transcript = models.transcriber(settings).transcribe(samples)
    found = find_turns(samples, models.voice_encoder(settings), find_profile(profiles, settings.host_name),
                       num_speakers=num_speakers)
    labelled = attribute(transcript.segments, found, profiles)
    w = wer(reference_text, " ".join(s.text for s in transcript.segments))
    reference = load_rttm(rttm)
    words = [x for s in labelled for x in s.words]
    accuracy = attribution_accuracy(reference, words, [*profiles, GUEST])
    return {
        "file": str(path),
        "wer": round(w.wer, 4),
        "wer_details": {"substitutions": w.substitutions, "deletions": w.deletions, "insertions": w.insertions,
                        "ref_words": w.ref_words},
        "der": {f"collar_{c:g}": round(der(reference, found.turns, duration, c), 4) for c in COLLARS},
        "speakers_estimated": found.n_speakers,
        "speaker_path": found.path,
        "speaker_reason": found.reason,
        "diarizer": found.diarizer,
        "attribution_accuracy": None if accuracy is None else round(accuracy, 4),
    }
