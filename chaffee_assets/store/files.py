"""Per-video files under CHAFFEE_HOME: the 16 kHz audio and each stage's Parquet (polars).

Every path is built from a validated video id, so nothing can land outside CHAFFEE_HOME; every write
goes to a temporary file first and is renamed into place, so a crash never leaves half a file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import numpy as np
import polars as pl

from chaffee_assets.settings import Settings
from chaffee_assets.speech.records import Segment, Transcript, Word
from chaffee_assets.speech.speakers.attribution import SpeakerTurns
from chaffee_assets.speech.speakers.diarize import Turn

# YouTube ids may start with '-' or '_' (20 of the channel's 572 do); paths are always built absolute.
VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class InvalidVideoId(ValueError):
    pass


def check_video_id(video_id: str) -> str:
    if not isinstance(video_id, str) or not VIDEO_ID.fullmatch(video_id):
        raise InvalidVideoId(
            f"invalid video id {video_id!r}: expected 1-64 characters of [A-Za-z0-9_-]"
        )
    return video_id


_WORD = pl.Struct(
    {"start": pl.Float64, "end": pl.Float64, "word": pl.String, "probability": pl.Float64,
     "speaker": pl.String, "speaker_conf": pl.Float64}
)
_SEGMENTS = {
    "start": pl.Float64, "end": pl.Float64, "text": pl.String, "avg_logprob": pl.Float64,
    "no_speech_prob": pl.Float64, "compression_ratio": pl.Float64, "speaker": pl.String,
    "speaker_conf": pl.Float64, "words": pl.List(_WORD),
}


def segments_frame(segments: list[Segment]) -> pl.DataFrame:
    rows = [dataclasses.asdict(s) for s in segments]
    return pl.DataFrame(rows, schema=_SEGMENTS)


def frame_segments(frame: pl.DataFrame) -> list[Segment]:
    return [Segment(**{**row, "words": [Word(**w) for w in row["words"] or []]}) for row in frame.iter_rows(named=True)]


def _replace_into(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _save_npy(path: Path, values: np.ndarray) -> None:
    with path.open("wb") as f:  # np.save(path) would append ".npy" to the temporary name
        np.save(f, values.astype(np.float16))


class Files:
    def __init__(self, settings: Settings) -> None:
        self.home = settings.home
        self.audio_dir = settings.audio_dir
        self.work_dir = settings.work_dir

    def _inside(self, base: Path, *parts: str) -> Path:
        path = base.joinpath(*parts).resolve()
        if not path.is_relative_to(base.resolve()):
            raise InvalidVideoId(f"path {path} escapes {base}")
        return path

    def audio(self, video_id: str) -> Path:
        return self._inside(self.audio_dir, f"{check_video_id(video_id)}.flac")

    def stage(self, video_id: str, name: str) -> Path:
        return self._inside(self.work_dir, check_video_id(video_id), name)

    # transcripts ---------------------------------------------------------------------------
    def write_transcript(self, video_id: str, t: Transcript) -> Path:
        frame = segments_frame(t.segments)
        meta = {"duration_s": t.duration_s, "compute_s": t.compute_s, "repairs": t.repairs,
                "dropped": [{"start": s.start, "end": s.end, "text": s.text, "why": why} for s, why in t.dropped]}
        _replace_into(self.stage(video_id, "transcript.json"), lambda p: p.write_text(json.dumps(meta)))
        if t.speech_probs is not None:  # ASR's VAD pass, reused by diarization
            _replace_into(self.stage(video_id, "speech_probs.npy"), lambda p: _save_npy(p, t.speech_probs))
        return _replace_into(self.stage(video_id, "transcript.parquet"), frame.write_parquet)

    def read_transcript(self, video_id: str) -> Transcript:
        meta = json.loads(self.stage(video_id, "transcript.json").read_text())
        segments = frame_segments(pl.read_parquet(self.stage(video_id, "transcript.parquet")))
        return Transcript(meta["duration_s"], segments, [], meta["compute_s"], repairs=meta.get("repairs", {}))

    def read_speech_probs(self, video_id: str) -> np.ndarray | None:
        """Silero speech probabilities kept by the transcripts stage, or None when it kept none."""
        path = self.stage(video_id, "speech_probs.npy")
        return np.load(path).astype(np.float32) if path.exists() else None

    # diarization ---------------------------------------------------------------------------
    def write_turns(self, video_id: str, found: SpeakerTurns) -> Path:
        frame = pl.DataFrame([dataclasses.asdict(t) for t in found.turns],
                             schema={"start": pl.Float64, "end": pl.Float64, "speaker": pl.String})
        meta = {k: v for k, v in dataclasses.asdict(found).items() if k != "turns"}
        _replace_into(self.stage(video_id, "diarization.parquet"), frame.write_parquet)
        return _replace_into(self.stage(video_id, "diarization.json"), lambda p: p.write_text(json.dumps(meta)))

    def read_turns(self, video_id: str) -> SpeakerTurns:
        meta = json.loads(self.stage(video_id, "diarization.json").read_text())
        frame = pl.read_parquet(self.stage(video_id, "diarization.parquet"))
        return SpeakerTurns(turns=[Turn(**r) for r in frame.iter_rows(named=True)], **meta)

    # speaker labels ------------------------------------------------------------------------
    def write_labels(self, video_id: str, segments: list[Segment]) -> Path:
        return _replace_into(self.stage(video_id, "speaker_labels.parquet"), segments_frame(segments).write_parquet)

    def read_labels(self, video_id: str) -> list[Segment]:
        return frame_segments(pl.read_parquet(self.stage(video_id, "speaker_labels.parquet")))
