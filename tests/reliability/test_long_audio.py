"""A very long file (3 h of generated speech) through the engine with bounded memory.

Each step runs in its own process (tests/reliability/long_worker.py) so its peak RSS is its own; the
whole file as float32 at 16 kHz would be 3 h x 16,000 x 4 B = 691 MB. Conversion must stay far below it;
ASR must cost no more for 3 h than for one 10 min window (the model's footprint plus one window's working
set, ~1 GB on this CPU: measured and reported, not assumed). The full 3 h ASR takes ~10+ minutes on 2 CPU cores: marked `slow` and `long`, so
`make reliability` runs it and `make test` does not. The windowing it relies on is checked by default on a
demo file.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import numpy as np
import pytest

from chaffee_assets.bench.evaluate import wer
from chaffee_assets.settings import REPO_ROOT
from chaffee_assets.speech import audio
from chaffee_assets.speech.asr.ctranslate2_backend import Transcriber
from chaffee_assets.speech.asr.windows import windows
from chaffee_assets.speech.vad import FRAME, speech_regions
from tests.conftest import DEMO_AUDIO

HOURS = 3.0
WHOLE_FILE_MB = HOURS * 3600 * 16_000 * 4 / 2**20  # 659 MiB (691 MB)
FIGURES: dict[str, dict] = {}


def run_worker(*args: str, timeout: float) -> dict:
    """python -m tests.reliability.long_worker ARGS in a child process; its JSON line. The child's own peak
    (VmHWM) is checked against RUSAGE_CHILDREN, which can only be higher: it is the largest child so far,
    and Linux counts into it what the child inherited from this process before exec()."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "tests.reliability.long_worker", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    children_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert children_peak_mb >= result["peak_rss_mb"] - 1
    print(f"\n{args[0]}: {json.dumps(result)}")
    FIGURES[args[0]] = result
    return result


@pytest.fixture(scope="module")
def long_flac(tmp_path_factory):
    """3 h of 16 kHz FLAC (~190 MB), generated once per session."""
    path = tmp_path_factory.mktemp("long") / "three-hours.flac"
    made = run_worker("generate", str(path), str(HOURS), timeout=600)
    assert made["seconds"] == HOURS * 3600
    return path


@pytest.fixture(scope="module")
def converted(long_flac):
    """raw_audio's conversion of the long file (audio.convert: PyAV decode -> 16 kHz mono FLAC, streamed)."""
    dst = long_flac.with_name("converted.flac")
    result = run_worker("convert", str(long_flac), str(dst), timeout=600)
    return dst, result


def test_windows_cover_the_audio_and_cut_in_pauses():
    samples = audio.load(DEMO_AUDIO / "monologue-01.flac")
    blocks = (samples[i : i + 7 * 16_000] for i in range(0, samples.size, 7 * 16_000))
    cuts = list(windows(blocks, window_s=20.0))
    assert len(cuts) >= 3
    assert [first for first, _ in cuts] == [sum(w.size for _, w in cuts[:i]) for i in range(len(cuts))]
    assert sum(w.size for _, w in cuts) == samples.size  # every sample once, in order
    regions = speech_regions(samples)
    for first, _w in cuts[1:]:  # each cut lies in a pause between the script's sentences
        t = first / 16_000
        assert not any(r.start + 0.1 < t < r.end - 0.1 for r in regions), t


def test_windowed_transcript_matches_the_whole_file():
    """A file longer than the window is streamed from disk window by window: times run on across windows,
    and the words are those of a single pass (window 600 s) within a few percent."""
    path = DEMO_AUDIO / "monologue-01.flac"
    script = (DEMO_AUDIO / "monologue-01.txt").read_text()
    whole = Transcriber().transcribe(audio.load(path))
    short = Transcriber(window_s=25.0)
    (done,) = short.transcribe_many([("m1", path)])  # over the window: streamed
    windowed = done.result
    assert not isinstance(windowed, Exception)
    assert windowed.duration_s == pytest.approx(whole.duration_s, abs=1e-3)
    starts = [s.start for s in windowed.segments]
    assert starts == sorted(starts) and windowed.segments[-1].end > whole.duration_s - 10
    # windows are cut on VAD frames: their speech probabilities make one sequence for the file, which
    # diarization reuses; silero's state restarts at each window, so they agree closely, not exactly
    assert windowed.speech_probs.shape == whole.speech_probs.shape == (-(-int(whole.duration_s * 16000) // FRAME),)
    assert np.corrcoef(windowed.speech_probs, whole.speech_probs)[0, 1] > 0.95
    text = lambda t: " ".join(s.text for s in t.segments)  # noqa: E731
    print(f"WER whole {wer(script, text(whole)).wer:.3f}, windowed {wer(script, text(windowed)).wer:.3f}")
    assert wer(script, text(windowed)).wer <= wer(script, text(whole)).wer + 0.1


def test_a_bad_file_does_not_end_the_batch(tmp_path):
    """transcribe_many hands back one file's error and goes on with the next (each file once, as it ends)."""
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"fLaC not really")
    good = DEMO_AUDIO / "monologue-02.flac"
    out = list(Transcriber(window_s=30.0).transcribe_many([("bad", bad), ("long", good), ("short", bad)]))
    assert sorted(d.key for d in out) == ["bad", "long", "short"]
    results = {d.key: d.result for d in out}
    assert isinstance(results["bad"], audio.AudioError) and isinstance(results["short"], audio.AudioError)
    assert len(results["long"].segments) > 5


def test_three_hour_conversion_streams(converted, fault_report):
    dst, result = converted
    assert result["seconds"] == pytest.approx(HOURS * 3600, abs=0.1)
    assert audio.duration(dst) == pytest.approx(HOURS * 3600, abs=0.1)
    # decoding and encoding 3 h never holds more than a chunk: far below the 691 MB whole-file array
    assert result["peak_rss_mb"] < 0.3 * WHOLE_FILE_MB, result
    fault_report.add(
        "very long file: 3 h conversion (raw_audio)",
        f"3 h FLAC -> 16 kHz FLAC; peak RSS {result['peak_rss_mb']:.0f} MB (whole-file array {WHOLE_FILE_MB:.0f} MiB)",
        videos_affected=0, rows_lost=0, rows_duplicated=0, recovered=True,
    )


@pytest.mark.slow
@pytest.mark.long
def test_three_hour_vad_on_the_diarization_input(converted, fault_report):
    """The diarization asset loads the whole converted file (audio.load) and runs VAD over it. VAD now
    goes block by block; the array itself is still whole (659 MiB for 3 h) — see the report."""
    dst, _ = converted
    result = run_worker("vad", str(dst), timeout=1800)
    assert result["last_end"] > HOURS * 3600 - 120  # speech found to the end
    assert result["speech_s"] > 0.6 * HOURS * 3600
    # the array plus silero's fixed working set for one 10 min block (~350 MB measured); over the whole
    # array at once silero held two more copies of it (measured: 2.4 GB peak for this file)
    assert result["peak_rss_mb"] < result["after_load_rss_mb"] + 450, result
    fault_report.add(
        "very long file: 3 h VAD for diarization",
        f"whole-file array {result['array_mb']:.0f} MiB; peak RSS {result['peak_rss_mb']:.0f} MB "
        "(the diarization asset still loads the file whole)",
        videos_affected=0, rows_lost=0, rows_duplicated=0, recovered=True,
    )


@pytest.fixture(scope="module")
def one_window(tmp_path_factory):
    """The same speech, 10 minutes (one ASR window): the model's footprint plus one window's working set."""
    path = tmp_path_factory.mktemp("window") / "ten-minutes.flac"
    run_worker("generate", str(path), str(1 / 6), timeout=600)
    return run_worker("asr", str(path), timeout=1200)


@pytest.mark.slow
@pytest.mark.long
def test_three_hour_asr_with_bounded_memory(converted, one_window, fault_report):
    dst, _ = converted
    result = run_worker("asr", str(dst), timeout=3600)
    assert result["duration_s"] == pytest.approx(HOURS * 3600, abs=0.1)
    assert result["monotonic"]
    assert result["last_end"] > HOURS * 3600 - 120  # transcribed to the end, not just the first window
    # the host's sentence about kidney stones is in monologue-01, once in every third pass (48 passes)
    assert result["kidney_stones"] >= 40, result
    # 18x the audio of the 10-minute file never holds the file whole. What it adds over the 10-minute run
    # is the prefetch thread's share: a queued window and one being read and VAD'd (each keeping its
    # parent buffer alive, silero's padded copies on top): 349 MB measured, against 129 MB when long files
    # were streamed without read-ahead, and 659 MB for the whole file as float32.
    growth = result["peak_rss_mb"] - one_window["peak_rss_mb"]
    assert growth < 0.6 * WHOLE_FILE_MB, (result, one_window)
    fault_report.add(
        "very long file: 3 h ASR (transcripts)",
        f"3 h streamed in 10 min windows; peak RSS {result['peak_rss_mb']:.0f} MB against "
        f"{one_window['peak_rss_mb']:.0f} MB for 10 min ({result['model_loaded_rss_mb']:.0f} MB model loaded)",
        videos_affected=0, rows_lost=0, rows_duplicated=0, recovered=True,
    )
