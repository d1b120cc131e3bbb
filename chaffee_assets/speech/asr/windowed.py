"""Backend-independent ASR plumbing: VAD clips, windows of long files, hallucination guards, and the driver
every Whisper backend (faster-whisper, PyTorch) shares. A backend only decodes one batch of clips
(WindowedTranscriber.decode_clips); clip_stream.ClipStream fills the batches from every file of a run."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from chaffee_assets.speech.asr.guards import Guards
from chaffee_assets.speech.asr.windows import window_parts
from chaffee_assets.speech.audio import SAMPLE_RATE
from chaffee_assets.speech.records import Segment, Transcript
from chaffee_assets.speech.vad import Region, regions

if TYPE_CHECKING:
    from chaffee_assets.speech.asr.clip_stream import Finished


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


class WindowedTranscriber:
    """One loaded model, reused for every file of the process. Subclasses set backend, model_name and dtype
    and implement decode_clips; clip_stream.ClipStream batches the clips of every file."""

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
        window_s: float = 600.0,  # longest audio prepared at once; longer files go window by window (memory)
        lookahead_batches: int = 4,  # clips sorted by length within this many batches (clip_stream.py)
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
        self.lookahead_batches = lookahead_batches

    def decode_clips(self, pieces: list[np.ndarray]) -> list[tuple[list[Any], float]]:
        """One batch (at most batch_size clips of 16 kHz samples) -> per clip (segments, base): the
        segments in time order, their times in seconds with `base` at the clip's first sample. A segment
        has start, end, text, avg_logprob, no_speech_prob, compression_ratio and words (start, end, word,
        probability); the decoder may place a last timestamp past the clip's end (ClipStream cuts it)."""
        raise NotImplementedError

    def speech(self, probs: np.ndarray, duration: float) -> list[Region]:
        """Speech regions of a window for ASR clips, from its silero probabilities."""
        return regions(probs, duration, **self.vad)

    def clips_of(self, speech: list[Region]) -> list[dict]:
        return clips(speech, self.chunk_length, self.max_gap_s)

    def missed(self, speech: list[Region], segments: list[Segment], offset: float) -> list[dict]:
        """Speech regions (seconds of the window starting at `offset` s) that got no word at all: batched
        decoding has no seek-and-retry, and tiny.en sometimes ends a clip early, losing whole sentences."""
        if self.min_missed_s <= 0:
            return []
        mids = np.array([(w.start + w.end) / 2 - offset for s in segments for w in s.words])
        return [{"start": r.start, "end": r.end} for r in speech
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
        """Consecutive 16 kHz blocks of one recording -> one transcript with times from its start. The
        audio is cut into windows of about window_s at quiet moments (windows()), so memory does not grow
        with the file."""
        from chaffee_assets.speech.asr.clip_stream import ClipStream, records_of

        records = records_of("", window_parts(blocks, self.window_s))
        (done,) = ClipStream(self, self.lookahead_batches).run(records)
        if isinstance(done.result, Exception):
            raise done.result
        return done.result

    def transcribe_many(self, items: Iterable[tuple[str, str | os.PathLike]], *, workers: int = 0,
                        depth: int = 2) -> Iterator[Finished]:
        """Every file of a run in one clip stream (clip_stream.py): batches span files and windows, and each
        file is handed back (clip_stream.Finished: its transcript or its error) as soon as its last clip is
        decoded; one bad file never stops the others. Files are read, cut into windows and run through
        silero ahead of the model: on `workers` processes (prep.prepared), or on one thread when workers is
        0. At most `depth` prepared windows wait (about 38 MB each for 10 min), plus one per worker being
        made, plus the windows whose clips are in the stream's look-ahead."""
        from chaffee_assets.speech.asr.clip_stream import ClipStream
        from chaffee_assets.speech.asr.prep import prepared

        records = prepared(dict(items), self.window_s, workers=workers, depth=depth)
        return ClipStream(self, self.lookahead_batches).run(records)
