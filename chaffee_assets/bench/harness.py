"""`chaffee bench`: three measurements on one corpus in one invocation, so their ratios share the noise.

(a) asr_only  - the batched ASR model alone over all files (model load included): the ceiling.
(b) naive     - the old per-video design (see naive.py).
(c) pipeline  - `chaffee ingest` in a fresh process: real Dagster runs through the instance with pools
                and batching; process start, imports, model loads and run/step launch all count.
(d) fixed cost - the same `chaffee ingest` of one 5 s clip: what every ingest pays before and around its
                audio (process start, imports, model loads, run and step launches).

(e) with --source-rate: `chaffee ingest` of an RSS feed of the same files served on 127.0.0.1 by
                source_server, at loopback speed and capped per connection (with --faults, one 429 and one
                cut connection per file): x realtime both ways, the models' wait for audio, download
                concurrency and audio downloaded ahead.

With --repeat N the modes run N times in turn and each mode reports its fastest round (all walls are kept).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from chaffee_assets.bench.source_server import SourceServer
from chaffee_assets.settings import Settings, get_settings
from chaffee_assets.speech import audio


@contextmanager
def environment(**values):
    """Set environment variables for a block (CHAFFEE_HOME of one measurement), then restore them."""
    saved = dict(os.environ)
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def corpus_files(corpus: Path) -> list[Path]:
    folder = corpus / "audio" if (corpus / "audio").is_dir() else corpus
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".flac", ".wav", ".mp3", ".m4a"))
    if not files:
        raise FileNotFoundError(f"no audio files in {folder}")
    return files


def device_name(settings: Settings) -> str:
    if settings.device.startswith("cuda"):
        import torch

        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {os.cpu_count()} cores, {platform.processor() or platform.machine()}"


def asr_only(files: list[Path], settings: Settings, backend: str) -> dict:
    from chaffee_assets.speech import models
    from chaffee_assets.speech.gpu_telemetry import telemetry

    clock = time.perf_counter()
    model = models.transcriber(settings, backend, fresh=True)  # the load is part of the ceiling
    with telemetry(settings.device, settings.gpu_sample_s) as gpu:  # {} on CPU
        done = list(model.transcribe_many(((f.stem, f) for f in files), workers=settings.prep_workers))
    failed = [d.key for d in done if isinstance(d.result, Exception)]
    if failed:
        raise RuntimeError(f"ASR-only pass failed on {failed}")
    compute = sum(d.result.compute_s for d in done)
    wall = time.perf_counter() - clock
    return {"wall_s": wall, "busy_fraction": compute / wall, **gpu.figures()}


def pipeline(files: list[Path], settings: Settings, voices: Path, work: Path, backend: str,
             feed: str | None = None) -> dict:
    """`chaffee ingest` in a child process against a prepared database (a deployment already has one):
    of the files as a local folder, or, with `feed`, of an RSS feed serving them (source_server)."""
    from chaffee_assets import runtime

    home = work / "home"
    work.mkdir(parents=True)
    with environment(CHAFFEE_HOME=home, VOICES_DIR=voices, CHAFFEE_ASR_BACKEND=backend):
        runtime.prepare(get_settings())  # initdb + schema creation: one-time set-up, not timed
        runtime.instance()
        env = dict(os.environ)
    media = work / "media"
    media.mkdir()
    for f in files:
        os.symlink(f.resolve(), media / f.name)
    clock = time.perf_counter()
    source = ["--source", "rss", "--feed", feed, "--no-skip-shorts"] if feed else ["--source", "local", "--path",
                                                                                 str(media)]
    done = subprocess.run([sys.executable, "-m", "chaffee_assets.cli", "ingest", *source], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - clock
    if done.returncode != 0:
        raise RuntimeError(f"pipeline run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    with environment(**{k: env[k] for k in ("CHAFFEE_HOME", "DAGSTER_HOME", "CHAFFEE_DAGSTER_PG_URL")}):
        stages, compute, extra = _run_metadata()
    overlap = home / "last_ingest.json"  # defs/ahead.py: how well downloads kept ahead of the models
    if overlap.exists():
        extra["overlap"] = json.loads(overlap.read_text())
    return {"wall_s": wall, "busy_fraction": compute / wall, "stages": stages, **extra}


def _run_metadata() -> tuple[dict, float, dict]:
    """Per-asset wall and compute seconds summed over the pipeline's runs, from Dagster's event log."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    stages: dict[str, float] = {}
    compute = 0.0
    extra = {"runs": len(instance.get_runs()), "fast_path_videos": 0, "videos": 0}
    for name in ["raw_audio", "transcripts", "diarization", "speaker_labels", "embeddings"]:
        records = instance.fetch_materializations(dg.AssetKey(name), limit=1000).records
        seen = set()
        for r in records:
            if r.run_id in seen:
                continue
            seen.add(r.run_id)
            meta = r.asset_materialization.metadata
            stages[name] = stages.get(name, 0.0) + meta["wall_s"].value
            compute += meta["compute_s"].value if "compute_s" in meta else 0.0
            if name == "diarization":
                extra["fast_path_videos"] += meta["fast_path_videos"].value
                extra["fast_path_saved_s"] = extra.get("fast_path_saved_s", 0.0) + meta["fast_path_saved_s"].value
            if name == "embeddings":
                extra["videos"] += meta["videos"].value
            if name == "raw_audio" and "download_concurrency_peak" in meta:
                extra["download_concurrency_peak"] = max(extra.get("download_concurrency_peak", 0),
                                                         meta["download_concurrency_peak"].value)
                extra["download_workers"] = meta["download_workers"].value
                extra["host_holds_429"] = extra.get("host_holds_429", 0) + meta["host_holds_429"].value
            if name == "transcripts" and "gpu_util_mean" in meta:  # NVML, on a GPU only
                extra["transcripts_gpu_util_mean"] = meta["gpu_util_mean"].value
                extra["transcripts_gpu_mem_peak_gb"] = meta["gpu_mem_peak_gb"].value
    return stages, compute, extra


def run(corpus: Path, out: Path, repeat: int = 1, backends: tuple[str, ...] = (), naive_mode: bool = True,
        source_rate: float = 0.0, faults: bool = False) -> dict:
    """The three modes with the configured ASR backend, best of `repeat` interleaved rounds; with more
    `backends`, the ASR-only ceiling and the pipeline for each of them too (the naive mode is the old
    faster-whisper design, run once per round; naive_mode False leaves it out: on a CUDA 13 GPU it
    could only run on the CPU)."""
    from chaffee_assets.bench import naive, report
    from chaffee_assets.speech.speakers.voice import VoiceEncoder, enroll
    from chaffee_assets.speech.vad import speech_regions
    from chaffee_assets.store import db

    settings = get_settings()
    files = corpus_files(corpus)
    durations = {f.name: audio.duration(f) for f in files}
    audio_s = sum(durations.values())
    with tempfile.TemporaryDirectory(prefix="chaffee-bench-") as tmp:
        work = Path(tmp)
        voices = work / "voices"
        enroll_clips = sorted((corpus / "enroll").glob("*.flac")) if (corpus / "enroll").is_dir() else []
        if enroll_clips:  # the host profile is an input, like voices/host.json: not timed
            profile = enroll(settings.host_name, [(c.name, audio.load(c)) for c in enroll_clips], VoiceEncoder(),
                             speech_regions)
            profile.save(voices / f"{settings.host_name}.json")
        else:
            voices = settings.voices_dir
        from chaffee_assets.speech.speakers.voice import load_profiles

        profiles, _ = load_profiles(voices)

        from chaffee_assets.speech.asr.backends import pick_backend

        main = pick_backend(settings.asr_backend, settings.device)
        others = [b for b in dict.fromkeys(pick_backend(b, settings.device) for b in backends) if b != main]
        samples: dict[str, list[dict]] = {"asr_only": [], "pipeline": [], "fixed_cost": []}
        if naive_mode:
            samples["naive"] = []
        tiny = _clip(files[0], work / "fixed-cost" / "clip.flac", seconds=5.0)
        samples.update({f"{mode}:{b}": [] for b in others for mode in ("asr_only", "pipeline")})
        served = _served(files, source_rate, faults) if source_rate else {}
        samples.update({mode: [] for mode in served})
        for round_ in range(repeat):  # interleaved, so a slow spell of the machine hits every mode
            samples["asr_only"].append(asr_only(files, settings, main))
            _progress("asr_only", samples["asr_only"][-1], audio_s)
            for b in others:
                samples[f"asr_only:{b}"].append(asr_only(files, settings, b))
                _progress(f"asr_only:{b}", samples[f"asr_only:{b}"][-1], audio_s)
            if naive_mode:
                with environment(CHAFFEE_HOME=work / f"naive-home-{round_}"):
                    try:
                        samples["naive"].append(naive.run(files, settings, db.database_url(get_settings()),
                                                          profiles))
                        _progress("naive", samples["naive"][-1], audio_s)
                    finally:
                        db.stop_embedded(get_settings())
            for b in [main, *others]:
                mode, where = ("pipeline", work / f"pipeline-{round_}") if b == main else \
                    (f"pipeline:{b}", work / f"pipeline-{b}-{round_}")
                try:
                    samples[mode].append(pipeline(files, settings, voices, where, b))
                    _progress(mode, samples[mode][-1], audio_s)
                finally:
                    with environment(CHAFFEE_HOME=where / "home"):
                        db.stop_embedded(get_settings())
            for mode, conditions in served.items():  # the same files from an RSS feed on 127.0.0.1
                where = work / f"{mode}-{round_}"
                try:
                    with SourceServer(files, conditions, durations=durations) as server:
                        samples[mode].append(pipeline(files, settings, voices, where, main, feed=server.url()))
                        samples[mode][-1]["server"] = server.figures()
                    _progress(mode, samples[mode][-1], audio_s)
                finally:
                    with environment(CHAFFEE_HOME=where / "home"):
                        db.stop_embedded(get_settings())
            where = work / f"fixed-{round_}"
            try:
                samples["fixed_cost"].append(pipeline([tiny], settings, voices, where, main))
                _progress("fixed_cost (5 s clip)", samples["fixed_cost"][-1], 5.0)
            finally:
                with environment(CHAFFEE_HOME=where / "home"):
                    db.stop_embedded(get_settings())
    # best of the rounds: on a shared machine noise only ever adds time
    results = {mode: dict(min(runs, key=lambda r: r["wall_s"]), walls_s=[r["wall_s"] for r in runs])
               for mode, runs in samples.items()}

    for r in results.values():
        r["x_realtime"] = audio_s / r["wall_s"]
    doc = {
        "device": device_name(settings),
        "asr_backend": main,
        "asr_model": settings.asr_model if settings.asr_model != "bundled" else "tiny.en (bundled)",
        "corpus": {"files": len(files), "audio_s": round(audio_s, 2), "path": str(corpus)},
        "repeat": repeat,
        **{k: _rounded(v) for k, v in results.items() if ":" not in k and k != "fixed_cost" and k not in served},
        **({"speedup_vs_naive": round(results["pipeline"]["x_realtime"] / results["naive"]["x_realtime"], 3)}
           if naive_mode else {}),
        "efficiency_vs_asr_only": round(results["pipeline"]["x_realtime"] / results["asr_only"]["x_realtime"], 3),
        "fixed_cost_s": round(results["fixed_cost"]["wall_s"], 2),
        "fixed_cost_share": round(results["fixed_cost"]["wall_s"] / results["pipeline"]["wall_s"], 3),
        **(_source_figures(results, served, source_rate, audio_s, files) if served else {}),
        "other_backends": {b: {"asr_only": _rounded(results[f"asr_only:{b}"]),
                               "pipeline": _rounded(results[f"pipeline:{b}"]),
                               "efficiency_vs_asr_only": round(results[f"pipeline:{b}"]["x_realtime"]
                                                               / results[f"asr_only:{b}"]["x_realtime"], 3)}
                           for b in others},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    report.write(doc, out.with_suffix(".md"), out.with_suffix(".png"))
    return doc


def _served(files: list[Path], rate: float, faults: bool) -> dict:
    """The feed modes: the corpus at loopback speed, and at `rate` bytes/s per connection with 0.2 s of
    latency and a 0.3 s first byte (with faults: one 429 and one cut connection per file as well)."""
    from chaffee_assets.bench.source_server import Conditions

    throttled = Conditions.faulty(rate) if faults else Conditions(rate_bps=rate, latency_s=0.2, first_byte_s=0.3)
    return {"feed_loopback": Conditions(), "feed_throttled": throttled}


def _source_figures(results: dict, served: dict, rate: float, audio_s: float, files: list[Path]) -> dict:
    """The source section: both feed runs, their ratio, and the overlap figures of each."""
    size = sum(f.stat().st_size for f in files)
    loop, slow = results["feed_loopback"], results["feed_throttled"]
    return {"source": {
        "rate_bps_per_connection": rate,
        "per_connection_x_realtime": round(rate / (size / audio_s), 2),
        # the condition: about a quarter of the ASR-only speed measured in the same rounds
        "per_connection_vs_asr_only": round(rate / (size / audio_s) / results["asr_only"]["x_realtime"], 3),
        "conditions": {k: dataclasses.asdict(v) for k, v in served.items()},
        "feed_loopback": _rounded(loop),
        "feed_throttled": _rounded(slow),
        "throttled_vs_loopback": round(slow["x_realtime"] / loop["x_realtime"], 3),
        "loopback_vs_asr_only": round(loop["x_realtime"] / results["asr_only"]["x_realtime"], 3),
        "throttled_vs_asr_only": round(slow["x_realtime"] / results["asr_only"]["x_realtime"], 3),
    }}


def _clip(source: Path, dest: Path, seconds: float) -> Path:
    """The first `seconds` of a corpus file as a 16 kHz FLAC (the fixed-cost run's input)."""
    import soundfile as sf

    dest.parent.mkdir(parents=True, exist_ok=True)
    sf.write(dest, audio.load(source)[: int(seconds * audio.SAMPLE_RATE)], audio.SAMPLE_RATE, subtype="PCM_16")
    return dest


def _progress(mode: str, result: dict, audio_s: float) -> None:
    print(f"{mode}: {result['wall_s']:.1f} s wall, {audio_s / result['wall_s']:.2f} x realtime", file=sys.stderr, flush=True)


def _rounded(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value
