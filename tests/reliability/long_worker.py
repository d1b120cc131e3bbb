"""Run one engine step over a (long) file in its own process and print what it found and its peak RSS.

python -m tests.reliability.long_worker {generate,convert,asr,vad} ARGS...  -> one JSON line on stdout
"""

from __future__ import annotations

import json
import resource
import sys
import time


def peak_rss_mb() -> float:
    """This process's peak RSS (MB). VmHWM, not getrusage: Linux carries ru_maxrss over exec(), so a worker
    started from a big pytest process would report at least pytest's size; VmHWM starts fresh at exec."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def generate(dst: str, hours: str) -> dict:
    """hours of 16 kHz mono FLAC: the demo recordings back to back, over and over, each pass at another
    gain, written block by block (this process never holds the whole file either)."""
    import numpy as np
    import soundfile as sf

    from tests.conftest import DEMO_AUDIO

    parts = [sf.read(DEMO_AUDIO / n, dtype="float32")[0] for n in
             ("monologue-01.flac", "interview-01.flac", "monologue-02.flac")]
    total = int(float(hours) * 3600 * 16_000)
    written, n = 0, 0
    with sf.SoundFile(dst, "w", samplerate=16_000, channels=1, format="FLAC", subtype="PCM_16") as out:
        while written < total:
            part = parts[n % len(parts)] * (0.6 + 0.4 * ((n * 7) % 5) / 4)
            part = part[: total - written]
            out.write(part)
            written += part.size
            n += 1
    return {"seconds": written / 16_000, "parts": n}


def convert(src: str, dst: str) -> dict:
    from chaffee_assets.speech import audio

    return {"seconds": audio.convert(src, dst)}


def asr(path: str) -> dict:
    """The transcripts asset's path: the configured model, transcribe_many over the file."""
    from chaffee_assets.settings import get_settings
    from chaffee_assets.speech import models

    model = models.transcriber(get_settings())
    loaded = peak_rss_mb()
    (done,) = model.transcribe_many([("long", path)], workers=get_settings().prep_workers)
    t = done.result
    if isinstance(t, Exception):
        raise t
    words = sum(len(s.words) for s in t.segments)
    return {"model_loaded_rss_mb": loaded, "duration_s": t.duration_s, "segments": len(t.segments),
            "words": words, "first_start": t.segments[0].start if t.segments else None,
            "last_end": t.segments[-1].end if t.segments else None,
            "monotonic": all(a.start <= b.start for a, b in zip(t.segments, t.segments[1:])),
            "text_head": " ".join(s.text for s in t.segments[:3]),
            "kidney_stones": sum("kidney stones" in s.text.lower() for s in t.segments),
            "compute_s": t.compute_s}


def vad(path: str) -> dict:
    """The diarization asset's input: the whole converted file as one array, then silero VAD over it."""
    from chaffee_assets.speech import audio
    from chaffee_assets.speech.vad import speech_regions

    samples = audio.load(path)
    loaded = peak_rss_mb()
    regions = speech_regions(samples)
    return {"array_mb": samples.nbytes / 2**20, "after_load_rss_mb": loaded, "regions": len(regions),
            "speech_s": sum(r.duration for r in regions), "last_end": regions[-1].end if regions else None}


if __name__ == "__main__":
    started = time.perf_counter()
    mode, *args = sys.argv[1:]
    result = {"generate": generate, "convert": convert, "asr": asr, "vad": vad}[mode](*args)
    result.update(mode=mode, wall_s=round(time.perf_counter() - started, 1), peak_rss_mb=round(peak_rss_mb(), 1))
    print(json.dumps(result))
    sys.stdout.flush()
