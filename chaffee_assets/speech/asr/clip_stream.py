"""One ASR stream for a whole run: the clips of every window of every video fill decoder batches of exactly
batch_size (the last one excepted), length-sorted within a bounded look-ahead. Each result goes back to its
window; a window whose first pass left speech without words queues those regions for a second decode; a
video is handed back when its last window is done. A video whose preparation or decoding fails loses only
its own clips: the others in the same batch are decoded again without it.

The stream is driven by its producer: records (prefetch.Loaded: a window of a video, a video's closing
record, or its error) go in as they are prepared, finished videos come out as soon as they are complete."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chaffee_assets.speech.asr.boundaries import repair
from chaffee_assets.speech.asr.prefetch import Loaded
from chaffee_assets.speech.audio import SAMPLE_RATE
from chaffee_assets.speech.records import Segment, Transcript, Word
from chaffee_assets.speech.vad import Region

log = logging.getLogger(__name__)


@dataclass
class Finished:
    """A video out of the stream: its transcript, or the error that ended it."""

    key: str
    result: Transcript | Exception
    queues: dict[str, int]  # io: windows prepared and waiting; asr: clips waiting for a batch


@dataclass(eq=False)
class Window:
    """About window_s of one video: its samples, silero probabilities and the segments decoded so far."""

    first: int  # first sample in the file
    samples: np.ndarray
    probs: np.ndarray
    speech: list[Region] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)  # file seconds, guards not yet applied
    looped: list[Segment] = field(default_factory=list)  # a decoding loop taken out after the first pass
    waiting: int = 0  # clips out for decoding
    second_pass: bool = False

    @property
    def offset(self) -> float:
        return self.first / SAMPLE_RATE

    @property
    def duration(self) -> float:
        return self.samples.size / SAMPLE_RATE


@dataclass(eq=False)
class Video:
    key: str
    windows: list[Window] = field(default_factory=list)
    closed: bool = False  # every window was handed over
    error: Exception | None = None
    compute_s: float = 0.0


@dataclass(eq=False)
class Clip:
    """One decoder input: start..end seconds of a window."""

    video: Video
    window: Window
    start: float
    end: float

    @property
    def samples(self) -> np.ndarray:
        return self.window.samples[int(self.start * SAMPLE_RATE) : int(self.end * SAMPLE_RATE)]

    @property
    def duration(self) -> float:
        return self.end - self.start


class ClipStream:
    """The scheduler between prepared windows and one ASR model (windowed.WindowedTranscriber)."""

    def __init__(self, model, lookahead_batches: int = 4) -> None:
        self.model = model
        self.batch = max(model.batch_size, 1)
        self.lookahead = self.batch * max(lookahead_batches, 1)
        self.pending: list[Clip] = []
        self.videos: dict[str, Video] = {}
        self.ready: list[Finished] = []
        self.io_queued = 0

    def run(self, records: Iterable[Loaded]) -> Iterator[Finished]:
        """records: prefetch.Loaded records; yields one Finished per video, as each completes."""
        for record in records:
            self.io_queued = record.queued
            self._take(record)
            while len(self.pending) >= self.lookahead:
                self._decode_group(self.pending[: self.lookahead])
            yield from self._drain()
        while self.pending:  # the input is over: whole batches while they last, then what is left
            whole = min(self.lookahead, len(self.pending) // self.batch * self.batch)
            self._decode_group(self.pending[: whole or self.batch])
            yield from self._drain()
        yield from self._drain()

    def _drain(self) -> Iterator[Finished]:
        ready, self.ready = self.ready, []
        yield from ready

    def _take(self, record: Loaded) -> None:
        video = self.videos.setdefault(record.key, Video(record.key))
        if video.error is not None:
            return
        if record.error is not None:
            self._fail(video, record.error)
        elif record.last:
            video.closed = True
            self._maybe_finish(video)
        else:
            first, samples, probs = record.value
            window = Window(first, samples, probs)
            video.windows.append(window)
            window.speech = self.model.speech(probs, window.duration)
            self._queue(video, window, self.model.clips_of(window.speech))

    def _queue(self, video: Video, window: Window, spans: list[dict], front: bool = False) -> None:
        """spans ({"start", "end"} seconds of the window) join the pending clips."""
        clips = [Clip(video, window, c["start"], c["end"]) for c in spans]
        window.waiting += len(clips)
        self.pending = clips + self.pending if front else self.pending + clips
        if not clips:
            self._window_returned(video, window)

    def _decode_group(self, group: list[Clip]) -> None:
        """The oldest look-ahead clips, sorted by length, decoded in batches of batch_size (the group is a
        whole number of batches except at the end of the run)."""
        taken = set(map(id, group))
        self.pending = [c for c in self.pending if id(c) not in taken]
        group = sorted(group, key=lambda c: c.duration, reverse=True)
        while group:
            batch, group = group[: self.batch], group[self.batch :]
            if any(c.video.error is not None for c in batch):  # a video failed since: the rest go back
                self.pending = [c for c in batch + group if c.video.error is None] + self.pending
                return
            self._decode_batch(batch)

    def _decode_batch(self, batch: list[Clip]) -> None:
        if not batch:
            return
        started = time.perf_counter()
        try:
            results = self.model.decode_clips([c.samples for c in batch])
        except Exception as exc:
            videos = list(dict.fromkeys(c.video for c in batch))
            if len(videos) == 1:
                log.warning("%s: transcription failed: %s: %s", videos[0].key, type(exc).__name__, exc)
                self._fail(videos[0], exc)
                return
            log.warning("a batch of %d videos failed (%s: %s): decoding each video's clips alone",
                        len(videos), type(exc).__name__, exc)
            for video in videos:
                self._decode_batch([c for c in batch if c.video is video])
            return
        elapsed = time.perf_counter() - started
        speech = sum(c.duration for c in batch) or 1.0
        for clip, (segments, base) in zip(batch, results):
            clip.video.compute_s += elapsed * clip.duration / speech
            clip.window.segments += [_segment(s, base, clip, clip.window) for s in segments]
            clip.window.waiting -= 1
            if clip.window.waiting == 0:
                self._window_returned(clip.video, clip.window)

    def _window_returned(self, video: Video, window: Window) -> None:
        """A window's pass is back: queue its wordless speech once for a second decode, else it is done."""
        if not window.second_pass:
            window.second_pass = True
            # a decoding loop's segments leave, so the speech under them is decoded again as missed speech
            window.segments.sort(key=lambda s: s.start)
            looped = set(self.model.guards.loops(window.segments))
            window.looped = [s for i, s in enumerate(window.segments) if i in looped]
            window.segments = [s for i, s in enumerate(window.segments) if i not in looped]
            missed = self.model.missed(window.speech, window.segments, window.offset)
            if missed:
                log.info("re-decoding %d speech regions that got no words", len(missed))
                self._queue(video, window, missed, front=True)
                return
        self._maybe_finish(video)

    def _maybe_finish(self, video: Video) -> None:
        if video.error is None and video.closed and all(w.second_pass and not w.waiting for w in video.windows):
            self.ready.append(Finished(video.key, self._transcript(video), self._queues()))
            del self.videos[video.key]

    def _transcript(self, video: Video) -> Transcript:
        kept, dropped = [], []
        for window in video.windows:
            dropped += [(seg, "a decoding loop (the same text in segments in a row)") for seg in window.looped]
            for seg in sorted(window.segments, key=lambda s: s.start):
                why = self.model.guards.reason(seg)
                if why or seg.end <= seg.start:
                    dropped.append((seg, why or "empty span"))
                else:
                    kept.append(seg)
        windows = video.windows
        probs = np.concatenate([w.probs for w in windows]) if windows else np.zeros(0, dtype=np.float32)
        duration = (windows[-1].first + windows[-1].samples.size) / SAMPLE_RATE if windows else 0.0
        repairs = Counter()
        segments = repair(kept, duration, counts=repairs)
        return Transcript(duration, segments, dropped, video.compute_s, speech_probs=probs, repairs=dict(repairs))

    def _fail(self, video: Video, error: Exception) -> None:
        video.error = error
        self.pending = [c for c in self.pending if c.video is not video]
        video.windows = []  # its samples are freed
        self.ready.append(Finished(video.key, error, self._queues()))

    def _queues(self) -> dict[str, int]:
        return {"io": self.io_queued, "asr": len(self.pending)}


def _segment(s, base: float, clip: Clip, window: Window) -> Segment:
    """A backend segment (times from `base` at the clip's start) -> a Segment in file seconds. The decoder
    may place a last timestamp in the clip's padding: times stop at the clip's end (and the window's)."""
    shift = window.offset + clip.start
    limit = min(clip.end, window.duration) + window.offset

    def at(t: float) -> float:  # to the microsecond from the clip's start: the same wherever the clip sat
        return min(round(float(t) - base, 6) + shift, limit)

    words = [Word(at(w.start), at(w.end), w.word.strip(), float(w.probability)) for w in (s.words or [])
             if w.word.strip()]
    return Segment(at(s.start), at(s.end), s.text.strip(), float(s.avg_logprob), float(s.no_speech_prob),
                   float(s.compression_ratio), words)


def records_of(key: str, parts: Iterable[Any]) -> Iterator[Loaded]:
    """One video's window parts as prefetch records, in this thread (no read-ahead)."""
    for part in parts:
        yield Loaded(key, part)
    yield Loaded(key, last=True)
