"""The two ASR backends side by side on files with reference transcripts: WER of each against the
reference, WER between them, and how far apart their word start times are (median over the words both
transcripts share, matched in order). Run `python -m chaffee_assets.bench.backend_compare` for the
committed demo files and the pyannote sample, JSON on stdout."""

from __future__ import annotations

import difflib
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from chaffee_assets.bench import evaluate
from chaffee_assets.settings import REPO_ROOT
from chaffee_assets.speech import audio
from chaffee_assets.speech.records import Transcript

SAMPLE = REPO_ROOT / "tests" / "fixtures" / "pyannote_sample"


def reference_files() -> list[tuple[Path, str]]:
    """(audio, reference text): demo/audio/*.flac with their .txt, and the pyannote sample with its STM."""
    demo = [(f, f.with_suffix(".txt").read_text()) for f in sorted((REPO_ROOT / "demo" / "audio").glob("*.flac"))]
    return demo + [(SAMPLE / "sample.wav", evaluate.load_stm(SAMPLE / "sample.stm"))]


@dataclass
class FileComparison:
    file: str
    audio_s: float
    wer: dict[str, float]  # backend -> WER against the reference
    cross_wer: float  # the second backend's text scored against the first's
    median_start_delta_s: float  # over matched words
    p90_start_delta_s: float
    matched_words: int
    compute_s: dict[str, float]  # backend -> seconds inside the model (VAD excluded)


def text(t: Transcript) -> str:
    return " ".join(s.text for s in t.segments)


def start_deltas(a: Transcript, b: Transcript) -> np.ndarray:
    """|start difference| of the words the two transcripts share, matched in order on normalised spelling."""
    norm = lambda w: re.sub(r"[^a-z0-9']", "", w.lower())  # noqa: E731
    words_a = [w for s in a.segments for w in s.words]
    words_b = [w for s in b.segments for w in s.words]
    matcher = difflib.SequenceMatcher(None, [norm(w.word) for w in words_a], [norm(w.word) for w in words_b],
                                      autojunk=False)
    return np.array([abs(words_a[block.a + k].start - words_b[block.b + k].start)
                     for block in matcher.get_matching_blocks() for k in range(block.size)])


def compare(models: dict[str, object], files: list[tuple[Path, str]],
            keep: dict[tuple[str, str], Transcript] | None = None, parallel: bool = False) -> list[FileComparison]:
    """models: backend name -> loaded transcriber (two of them; the first is the cross-WER reference).
    keep, when given, receives every transcript by (file name, backend). parallel runs the two backends
    on two threads at once (both release the GIL while they compute): faster where two cores are free,
    but then compute_s counts the time they shared the CPU."""
    from concurrent.futures import ThreadPoolExecutor

    (first, model_a), (second, model_b) = models.items()
    out = []
    with ThreadPoolExecutor(2 if parallel else 1) as pool:
        for path, reference in files:
            samples = audio.load(path)
            ta, tb = pool.map(lambda model: model.transcribe(samples), (model_a, model_b))
            if keep is not None:
                keep[(path.name, first)], keep[(path.name, second)] = ta, tb
            deltas = start_deltas(ta, tb)
            out.append(FileComparison(
                path.name, samples.size / audio.SAMPLE_RATE,
                {first: evaluate.wer(reference, text(ta)).wer, second: evaluate.wer(reference, text(tb)).wer},
                evaluate.wer(text(ta), text(tb)).wer, float(np.median(deltas)) if deltas.size else float("inf"),
                float(np.percentile(deltas, 90)) if deltas.size else float("inf"), int(deltas.size),
                {first: ta.compute_s, second: tb.compute_s}))
    return out


def main() -> None:
    from chaffee_assets.settings import get_settings
    from chaffee_assets.speech import models as loaded

    settings = get_settings()
    clock, models = {}, {}
    for name in ("ctranslate2", "torch"):
        started = time.perf_counter()
        models[name] = loaded.transcriber(settings, name)
        clock[name] = time.perf_counter() - started
    rows = compare(models, reference_files())
    audio_s = sum(r.audio_s for r in rows)
    summary = {name: {"model": m.model_name, "dtype": m.dtype, "load_s": round(clock[name], 2),
                      "x_realtime": round(audio_s / sum(r.compute_s[name] for r in rows), 1)}
               for name, m in models.items()}
    json.dump({"audio_s": round(audio_s, 1), "backends": summary, "files": [asdict(r) for r in rows]},
              sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
