"""Generated media for the bad-input and long-file tests: clips cut from the demo corpus, re-encoded,
resampled, truncated, or synthesised (silence, tones, noise) with numpy."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.conftest import DEMO_AUDIO

RATE = 16_000


def demo_clip(name: str = "monologue-01.flac", seconds: float = 18.0) -> np.ndarray:
    """The first `seconds` of a demo file (16 kHz mono float32)."""
    samples, rate = sf.read(DEMO_AUDIO / name, dtype="float32", frames=int(seconds * RATE))
    assert rate == RATE
    return samples


def reference_words(name: str, seconds: float) -> str:
    """The demo file's reference text of the sentences that end within `seconds`."""
    import json

    turns = json.loads((DEMO_AUDIO / name).with_suffix(".json").read_text())["turns"]
    return " ".join(t["text"] for t in turns if t["end"] <= seconds)


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Band-limited resampling with PyAV's libswresample (16 kHz -> rate)."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
    frame.sample_rate = RATE
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out)


def encode(path: Path, samples: np.ndarray, rate: int, codec: str, *, channels: int = 1) -> Path:
    """Write samples ((n,) or (n, channels) float32) with PyAV: mp3, aac (in .mp4/.m4a), opus, flac..."""
    import av

    data = samples.reshape(-1, 1) if samples.ndim == 1 else samples
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        fmt = stream.codec_context.format.name  # the encoder's sample format, e.g. fltp / s16p
        step = 4096
        pts = 0
        resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        for i in range(0, len(data), step):
            block = np.ascontiguousarray(data[i : i + step].T.astype(np.float32))
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = pts
            frame.time_base = Fraction(1, rate)
            pts += block.shape[1]
            for f in resampler.resample(frame):
                container.mux(stream.encode(f))
        for f in resampler.resample(None):
            container.mux(stream.encode(f))
        container.mux(stream.encode(None))
    return path


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def music(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Something like music: a chord progression of harmonic tones with a beat, no voice."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    out = np.zeros_like(t)
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6), (164.8, 207.7, 246.9)]
    bar = 2.0
    for i, start in enumerate(np.arange(0, seconds, bar)):
        span = (t >= start) & (t < start + bar)
        for f in chords[i % len(chords)]:
            for h, a in ((1, 0.5), (2, 0.2), (3, 0.1)):
                out[span] += a * np.sin(2 * np.pi * f * h * t[span])
    beat = (np.sin(2 * np.pi * 2.0 * t) > 0.95) * rng.normal(0, 0.3, t.size)  # a noisy hi-hat twice a second
    out = out / np.abs(out).max() * 0.5 + beat
    return np.clip(out, -1, 1).astype(np.float32)


def noise(seconds: float, rate: int = RATE, seed: int = 1) -> np.ndarray:
    """Pink-ish noise (white noise through a leaky integrator), like fan or tape hiss."""
    from scipy.signal import lfilter

    white = np.random.default_rng(seed).normal(0, 1, int(seconds * rate))
    pink = lfilter([0.02], [1, -0.98], white) + 0.3 * white
    return (pink / np.abs(pink).max() * 0.4).astype(np.float32)


def truncate(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def corrupt_middle(src: Path, dst: Path, seed: int = 3) -> Path:
    """Overwrite the middle third of the file with random bytes (header intact)."""
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(seed)
    a, b = len(data) // 3, 2 * len(data) // 3
    data[a:b] = rng.integers(0, 256, b - a, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(data))
    return dst


def png_bytes() -> bytes:
    """A real 8x8 grey PNG (zlib + crc by hand: no imaging library needed)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes([128] * 8) for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
