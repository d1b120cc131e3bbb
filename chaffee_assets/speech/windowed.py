"""Backend-independent ASR plumbing: VAD clips, windows of long files, hallucination guards, and the
window-by-window driver every Whisper backend (faster-whisper, PyTorch) shares. A backend only decodes a
batch of clips of one window (WindowedTranscriber._decode)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chaffee_assets.speech.audio import SAMPLE_RATE
from chaffee_assets.speech.boundaries import repair
from chaffee_assets.speech.guards import Guards
from chaffee_assets.speech.records import Segment, Transcript, Word
from chaffee_assets.speech.vad import FRAME, Region, regions, speech_probs

log = logging.getLogger(__name__)


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
# Silero settings for ASR chunks (vad.regions names); the batched path's own defaults.
DEFAULT_VAD = {"threshold": 0.5, "min_silence_ms": 160, "min_speech_ms": 0, "pad_ms": 400}


def clips(regions: list[Region], chunk_s: float, max_gap_s: float) -> list[dict]:
    """Speech regions merged into clips of at most chunk_s seconds (a clip is one decoder input). A clip
    keeps the short pauses between its regions; a pause longer than max_gap_s starts a new clip."""
    out: list[dict] = []
    for r in regions:
        if out and r.end - out[-1]["start"] <= chunk_s and r.start - out[-1]["end"] <= max_gap_s:
            out[-1]["end"] = r.end
        else:
            out.append({"start": r.start, "end": r.end})
    return out


@dataclass
class _Pieces:
    """A transcript being put together window by window."""

    kept: list[Segment] = field(default_factory=list)
    dropped: list[tuple[Segment, str]] = field(default_factory=list)
    probs: list[np.ndarray] = field(default_factory=list)
    samples: int = 0
    compute_s: float = 0.0

    def transcript(self) -> Transcript:
        """The file's transcript, its segment boundaries repaired (boundaries.repair)."""
        probs = np.concatenate(self.probs) if self.probs else np.zeros(0, dtype=np.float32)
        duration = self.samples / SAMPLE_RATE
        return Transcript(duration, repair(self.kept, duration), self.dropped, self.compute_s, probs)


class WindowedTranscriber:
    """One loaded model, reused for every file of the process. Subclasses set backend, model_name and dtype
    and implement _decode."""

    backend = "none"
    model_name = ""
    dtype = ""

    def __init__(
        self,
        *,
        batch_size: int = 8,
        beam_size: int = 5,
        guards: Guards = Guards(),
        repetition_penalty: float = 1.05,
        vad: dict | None = None,  # vad.regions options over DEFAULT_VAD; max_speech_s is chunk_length
        chunk_length: int = 30,
        max_gap_s: float = 3.0,  # a longer pause between speech regions starts a new clip
        min_missed_s: float = 1.0,  # shortest wordless speech region worth a second decode; 0 turns it off
        window_s: float = 600.0,  # longest audio decoded at once; longer files go window by window (memory)
    ) -> None:
        self.batch_size = batch_size
        self.beam_size = beam_size
        self.guards = guards
        self.repetition_penalty = repetition_penalty
        self.vad = {**DEFAULT_VAD, **(vad or {}), "max_speech_s": chunk_length}
        self.chunk_length = chunk_length
        self.max_gap_s = max_gap_s
        self.min_missed_s = min_missed_s
        self.window_s = window_s

    def _decode(self, audio: np.ndarray, clip_timestamps: list[dict]) -> list[tuple[Any, float]]:
        """(segment, end of its clip in seconds) for the clips ({"start", "end"} seconds of audio), in time
        order. A segment has start, end, text, avg_logprob, no_speech_prob, compression_ratio and words
        (start, end, word, probability), times in seconds of this audio; the decoder may place a last
        timestamp in the clip's padding, past the audio it was given, hence the clip's end."""
        raise NotImplementedError

    def _missed(self, regions: list[Region], segments: list) -> list[dict]:
        """Speech regions (seconds) that got no word at all."""
        if self.min_missed_s <= 0:
            return []
        mids = np.array([(w.start + w.end) / 2 for s, _end in segments for w in (s.words or [])])
        return [{"start": r.start, "end": r.end} for r in regions
                if r.duration >= self.min_missed_s and not ((mids >= r.start) & (mids <= r.end)).any()]

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

        The audio is cut into windows of about window_s at quiet moments (windows()); VAD, features and
        batches then cover one window at a time, so memory does not grow with the file.
        """
        pieces = _Pieces()
        for part in self.window_parts(blocks):
            self._add(pieces, *part)
        return pieces.transcript()

    def window_parts(self, blocks: Iterable[np.ndarray]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """The CPU side of each window: (first sample, samples, silero speech probabilities)."""
        for first, window in windows(blocks, self.window_s):
            yield first, window, speech_probs(window)

    def _add(self, pieces: _Pieces, first: int, window: np.ndarray, probs: np.ndarray) -> None:
        started = time.perf_counter()
        kept, dropped = self._transcribe_window(window, first / SAMPLE_RATE, probs)
        pieces.compute_s += time.perf_counter() - started
        pieces.kept += kept
        pieces.dropped += dropped
        pieces.probs.append(probs)
        pieces.samples = first + window.size

    def _transcribe_window(self, audio: np.ndarray, offset: float,
                           probs: np.ndarray) -> tuple[list[Segment], list[tuple[Segment, str]]]:
        duration = audio.size / SAMPLE_RATE
        speech = regions(probs, duration, **self.vad)
        raw = self._decode(audio, clips(speech, self.chunk_length, self.max_gap_s))
        missed = self._missed(speech, raw)
        if missed:  # each region alone in its own clip, all in one batch
            log.info("re-decoding %d speech regions that got no words", len(missed))
            raw = sorted(raw + self._decode(audio, missed), key=lambda pair: pair[0].start)
        kept, dropped = [], []
        for s, clip_end in raw:
            limit = min(clip_end, duration)
            seg = Segment(
                start=offset + float(s.start),
                end=offset + float(min(s.end, limit)),
                text=s.text.strip(),
                avg_logprob=float(s.avg_logprob),
                no_speech_prob=float(s.no_speech_prob),
                compression_ratio=float(s.compression_ratio),
                words=[
                    Word(offset + float(min(w.start, limit)), offset + float(min(w.end, limit)), w.word.strip(),
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
        self, items: Iterable[tuple[str, str | os.PathLike]], depth: int = 1
    ) -> Iterator[tuple[str, Transcript | Exception, int]]:
        """Transcribe files in order while a CPU thread reads the next windows and runs VAD over them
        (bounded queue of `depth` windows), so the model never waits on I/O or VAD. Memory: the window
        being decoded, `depth` queued and one being prepared, about 38 MB each. Yields (key, transcript
        or the error, windows queued): an error in one file is handed back for that file and the next
        files still run. Files are streamed window by window: a 3 h file never sits in memory whole."""
        from chaffee_assets.speech import audio
        from chaffee_assets.speech.prefetch import prefetch

        paths = dict(items)
        pieces, failed = _Pieces(), False
        for item in prefetch(paths, lambda key: self.window_parts(audio.blocks(paths[key])), depth):
            if not failed and (item.error is not None or item.last):
                yield item.key, item.error or pieces.transcript(), item.queued
            elif not failed:
                try:
                    self._add(pieces, *item.value)
                except Exception as exc:  # this file's failure; the generator must live on for the next files
                    log.warning("%s: transcription failed: %s: %s", item.key, type(exc).__name__, exc)
                    failed = True
                    yield item.key, exc, item.queued
            if item.last:
                pieces, failed = _Pieces(), False


def windows(blocks: Iterable[np.ndarray], window_s: float, search_s: float = 30.0,
            frame_s: float = 0.1) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample, samples) windows of at most window_s from consecutive blocks. Each window but the
    last ends at the quietest frame_s of its last search_s seconds, so a cut rarely splits a word. Cuts fall
    on whole VAD frames, so the windows' speech probabilities line up into one sequence for the file."""
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
            cut = (size - search + int(np.argmin(energy)) * frame + frame // 2) // FRAME * FRAME
            yield first, buffer[:cut]
            first += cut
            pending, have = [buffer[cut:]], buffer.size - cut
    if have:
        yield first, np.concatenate(pending)
