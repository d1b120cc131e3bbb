"""The faster-whisper (CTranslate2) backend: its batched pipeline over our own VAD clips."""

from __future__ import annotations

from typing import Any

import numpy as np

from chaffee_assets.speech.asr.backends import resolve_model
from chaffee_assets.speech.asr.windowed import WindowedTranscriber
from chaffee_assets.speech.audio import SAMPLE_RATE

# Seconds of zeros before each clip of a faster-whisper batch (Transcriber.decode_clips): more than its
# "pause" of 4 median word lengths, which it caps at 4 x 0.7 = 2.8 s.
GAP_S = 3


class Transcriber(WindowedTranscriber):
    """faster-whisper's batched pipeline (CTranslate2) over our own VAD clips."""

    backend = "ctranslate2"

    def __init__(self, model: str = "bundled", *, device: str = "cpu", compute_type: str = "int8",
                 cpu_threads: int = 0, **options: Any) -> None:
        """options: WindowedTranscriber's (batch_size, beam_size, guards, vad, chunk_length, ...)."""
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        super().__init__(**options)
        self.model_name = model
        self.dtype = compute_type
        self.model = WhisperModel(resolve_model(model), device=device, compute_type=compute_type,
                                  cpu_threads=cpu_threads)
        self.pipeline = BatchedInferencePipeline(self.model)

    def decode_clips(self, pieces: list[np.ndarray]) -> list[tuple[list[Any], float]]:
        """One batch through faster-whisper's batched pipeline: the clips laid end to end with zeros between
        them, as one array with their clip_timestamps (each clip is featurised and decoded alone, so clips
        of different files share the batch). Segments go back to the clip they start in."""
        if not pieces:
            return []
        # A clip's words must not depend on the clips around it (the same video in another run's batch
        # gives the same rows: tests/reliability/test_idempotency.py). faster-whisper rounds times to 1 ms
        # where they lie in this array, and it shortens a too-long first word after a pause of 4 median
        # words since the last word it aligned, whichever clip that was. So each clip starts on a whole
        # second after GAP_S of zeros: every clip begins after a pause. The zeros are never featurised
        # (each clip is cut out by its clip_timestamps), so they cost memory only: 0.2 MB per clip.
        starts, parts, at = [], [np.zeros(GAP_S * SAMPLE_RATE, np.float32)], GAP_S * SAMPLE_RATE
        for piece in pieces:
            starts.append(at)
            end = -(-(at + piece.size) // SAMPLE_RATE) * SAMPLE_RATE + GAP_S * SAMPLE_RATE
            parts += [np.asarray(piece, np.float32), np.zeros(end - at - piece.size, np.float32)]
            at = end
        # +1e-7 s: faster-whisper truncates seconds x 16000 to a sample, and n / 16000 * 16000 can fall below n
        stamps = [{"start": s / SAMPLE_RATE + 1e-7, "end": (s + p.size) / SAMPLE_RATE + 1e-7}
                  for s, p in zip(starts, pieces)]
        segments, _info = self.pipeline.transcribe(
            np.concatenate(parts),
            language="en",
            batch_size=len(pieces),
            beam_size=self.beam_size,
            repetition_penalty=self.repetition_penalty,
            without_timestamps=False,  # sentence-sized segments, so a guard never drops a whole 30 s chunk
            word_timestamps=True,
            chunk_length=self.chunk_length,
            vad_filter=False,
            clip_timestamps=stamps,  # from our VAD pass: the pipeline runs none of its own
        )
        bases = np.array(starts) / SAMPLE_RATE
        out: list[tuple[list[Any], float]] = [([], float(b)) for b in bases]
        # a generator: decoding happens while iterating. faster-whisper counts a clip's offset in whole 10 ms
        # frames, so a segment can start up to 10 ms before its clip (monologue-01: 26.49 s in the clip from
        # 26.496 s); looked up by its start alone it went to the clip before, and its words were all cut to
        # that clip's end (26.50 s for a 6 s sentence).
        for seg in segments:
            out[max(int(np.searchsorted(bases, seg.start + 0.02, "right")) - 1, 0)][0].append(seg)
        return out
