"""Run one stage over all videos of a run: one bad video is recorded and skipped, never fatal."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg

from chaffee_assets.sources.base import Skipped
from chaffee_assets.speech import gpu_telemetry
from chaffee_assets.store import catalog
from chaffee_assets.store.db import Database, DatabaseUnavailable


class Refused(Exception):
    """A video the platform will not store as it is: deterministic, so a re-run refuses it again."""


# A figures key whose dict record() merges into the video's sources.metadata instead of the step's table.
SOURCES_METADATA = "sources_metadata"


def active_keys(context: dg.AssetExecutionContext, database: Database, stage: str) -> list[str]:
    """The run's videos this stage works on: raw_audio retries everything, later stages pass over
    videos an earlier stage failed or skipped."""
    keys = context.partition_keys
    if stage == "raw_audio":
        return list(keys)
    status = database.run(catalog.statuses, keys)
    for key in keys:
        if status.get(key) in catalog.INACTIVE:
            context.log.info(f"{key}: not run by {stage} (an earlier stage left it {status[key]})")
    return [k for k in keys if status.get(k) not in catalog.INACTIVE]


def each_video(
    context: dg.AssetExecutionContext,
    database: Database,
    stage: str,
    work: Callable[[str], dict],
    keys: list[str] | None = None,
) -> dict[str, dict]:
    """Call work(video_id) for each active video of the run (in order); returns {video_id: figures}."""
    done: dict[str, dict] = {}
    for key in active_keys(context, database, stage) if keys is None else keys:
        record(context, database, stage, key, lambda: work(key), done)
    return done


def record(context: dg.AssetExecutionContext, database: Database, stage: str, key: str,
           work: Callable[[], dict], done: dict[str, dict]) -> None:
    """Run one video's work and record the outcome: its figures into `done` (their SOURCES_METADATA entry
    merged into the video's sources.metadata), or the video failed.

    A failure marks the video failed in `sources` with the stage and cause; later stages skip it and a
    later run retries it from raw_audio. Postgres unreachable through every retry is no video's fault:
    it fails the step, and a re-run carries on.
    """
    try:
        figures = work()
    except DatabaseUnavailable:
        raise
    except Skipped as exc:  # a filter only the full metadata or the file could decide (short, live...)
        context.log.info(str(exc))
        database.run(catalog.mark, key, "skipped", error=str(exc))
        return
    except Refused as exc:
        message = f"{stage} refused video {key}: {exc}"
        context.log.error(message)
        database.run(catalog.mark, key, "failed", error=message)
        return
    except Exception as exc:  # one bad video must not sink the batch
        message = f"{stage} failed for video {key}: {type(exc).__name__}: {exc}"
        context.log.error(message)
        database.run(catalog.mark, key, "failed", error=message)
        return
    metadata = figures.pop(SOURCES_METADATA, None)
    done[key] = figures
    if stage != "embeddings":  # embeddings marks 'done' in the same transaction as the rows
        database.run(catalog.mark, key, catalog.STAGE_STATUS[stage], metadata=metadata)


def summary(done: dict[str, dict], keys: list[str], wall_s: float, compute_s: float) -> dict:
    """Numbers the UI plots over time, plus a per-video markdown table. `busy_fraction` here is
    `compute_fraction` (model time / wall time); on a GPU, GpuSampling.figures() replaces it with NVML's."""
    audio_s = sum(f.get("audio_s", 0.0) for f in done.values())
    x_realtime = round(audio_s / wall_s, 2) if wall_s > 0 else 0.0
    compute_fraction = round(min(compute_s / wall_s, 1.0), 3) if wall_s > 0 else 0.0
    columns = sorted({c for f in done.values() for c in f})
    table = "| video | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns) + "\n"
    for key, figures in done.items():
        table += f"| {key} | " + " | ".join(_fmt(figures.get(c)) for c in columns) + " |\n"
    return {
        "videos": len(done),
        "failed": len(keys) - len(done),
        "audio_s": round(audio_s, 2),
        "wall_s": round(wall_s, 3),
        "compute_s": round(compute_s, 3),
        "x_realtime": x_realtime,
        "h_audio_per_h": x_realtime,  # the operators' name for the same ratio
        "compute_fraction": compute_fraction,
        "busy_fraction": compute_fraction,
        "per_video": dg.MetadataValue.md(table),
    }


class GpuSampling:
    """The NVML figures of a step's GPU work, as materialization metadata."""

    def __init__(self, sampler) -> None:
        self.sampler = sampler

    def figures(self) -> dict:
        """`gpu_util_mean`, `gpu_util_p10`, `gpu_mem_peak_gb`, `gpu_samples` and `busy_fraction` (the
        device-busy share, gpu_telemetry's `gpu_busy_fraction`); {} on CPU or without NVML, so the keys
        are absent there, not zero. Update a summary() with it to replace its `busy_fraction`."""
        figures = self.sampler.figures()
        if figures:
            figures["busy_fraction"] = figures.pop("gpu_busy_fraction")
        return figures


@contextmanager
def gpu_sampling(platform) -> Iterator[GpuSampling]:
    """Samples this deployment's device (CHAFFEE_DEVICE) while the block runs; never raises for telemetry."""
    settings = platform.settings
    with gpu_telemetry.telemetry(settings.device, settings.gpu_sample_s) as sampler:
        yield GpuSampling(sampler)


def _fmt(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started
