"""Decode any audio/video container to 16 kHz mono float32, streaming, with errors that name the cause."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16_000
# convert() refuses a file that decodes to less than this share of the duration its header declares
# (a truncated download, a file cut short, a corrupt middle the decoder skipped).
MIN_DECODED_SHARE = 0.9
FIX = "replace the file (re-download or re-encode it) and run the video again"


class AudioError(ValueError):
    """The file cannot be used as audio: empty, corrupt, not audio, or no audio stream."""


def _open(path: Path):
    import av

    if not path.exists():
        raise AudioError(f"{path.name}: file not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{path.name}: file is empty (0 bytes); {FIX}")
    try:
        container = av.open(str(path))
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise AudioError(f"{path.name}: not a readable audio/video file ({exc}); {FIX}") from None
    if not container.streams.audio:
        container.close()
        raise AudioError(f"{path.name}: no audio stream (not an audio/video file, or video only); {FIX}")
    return container


def iter_pcm(path: str | os.PathLike, chunk_s: float = 30.0) -> Iterator[np.ndarray]:
    """Yield 16 kHz mono float32 chunks of about chunk_s seconds; memory stays bounded."""
    import av

    path = Path(path)
    container = _open(path)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    target = int(chunk_s * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    have = 0
    try:
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            for frame in packet.decode():
                for out in resampler.resample(frame):
                    pending.append(out.to_ndarray().reshape(-1))
                    have += pending[-1].size
                if have >= target:
                    yield np.concatenate(pending)
                    pending, have = [], 0
        for out in resampler.resample(None):
            pending.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        raise AudioError(f"{path.name}: corrupt or truncated media ({exc}); {FIX}") from None
    finally:
        container.close()
    if pending:
        yield np.concatenate(pending)


def convert(src: str | os.PathLike, dst: str | os.PathLike) -> float:
    """Decode src to a 16 kHz mono FLAC at dst (written atomically). Returns the duration in seconds."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    samples = 0
    try:
        with sf.SoundFile(tmp, "w", samplerate=SAMPLE_RATE, channels=1, format="FLAC", subtype="PCM_16") as out:
            for chunk in iter_pcm(src):
                out.write(np.clip(chunk, -1.0, 1.0))
                samples += chunk.size
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if samples == 0:
        tmp.unlink(missing_ok=True)
        raise AudioError(f"{Path(src).name}: decoded to zero samples; {FIX}")
    declared = duration(src)
    if declared > 0 and samples / SAMPLE_RATE < MIN_DECODED_SHARE * declared:
        tmp.unlink(missing_ok=True)
        raise AudioError(f"{Path(src).name}: truncated or corrupt: decoded {samples / SAMPLE_RATE:.1f} s of the "
                         f"{declared:.1f} s its header declares; {FIX}")
    os.replace(tmp, dst)
    return samples / SAMPLE_RATE


def load(path: str | os.PathLike) -> np.ndarray:
    """The whole file as 16 kHz mono float32 (use on converted files; iter_pcm for arbitrary media)."""
    path = Path(path)
    if _converted(path):
        return sf.read(str(path), dtype="float32")[0]
    chunks = list(iter_pcm(path))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def blocks(path: str | os.PathLike, block_s: float = 30.0) -> Iterator[np.ndarray]:
    """16 kHz mono float32 blocks of block_s seconds (the last shorter): load() without holding the file."""
    path = Path(path)
    if _converted(path):
        yield from sf.blocks(str(path), blocksize=int(block_s * SAMPLE_RATE), dtype="float32")
    else:
        yield from iter_pcm(path, block_s)


def _converted(path: Path) -> bool:
    """16 kHz mono FLAC/WAV (what convert() writes): read directly, no decoder or resampler needed."""
    if path.suffix.lower() not in (".flac", ".wav"):
        return False
    try:
        info = sf.info(str(path))
    except RuntimeError:  # soundfile cannot read it (LibsndfileError): the decoder path names the problem
        return False
    return info.samplerate == SAMPLE_RATE and info.channels == 1


def duration(path: str | os.PathLike) -> float:
    """Duration in seconds from the container header (no full decode); 0.0 when unknown."""
    container = _open(Path(path))
    try:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / 1_000_000
    finally:
        container.close()
