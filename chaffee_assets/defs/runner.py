"""Materialize the asset chain for a set of video partitions, a run per contiguous batch."""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from chaffee_assets.defs.executors import HOST_TAG, PID_TAG, process_tags, unserved_queues
from chaffee_assets.defs.partitions import videos
from chaffee_assets.settings import REPO_ROOT, get_settings

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class RunOutcome:
    run_id: str
    keys: list[str]
    success: bool
    checks: dict[str, bool]  # "asset:check" -> passed
    materialized: set[str]  # asset names materialized by the run
    failed_videos: dict[str, str]  # "asset:check" -> the videos it failed (comma-separated), for failed checks
    step_errors: list[str]  # "step: error" for each step that failed (the run's own failures, not a video's)


def batches(ordered: list[str], wanted: Iterable[str], size: int, durations: dict[str, float] | None = None,
            audio_s: float = 0.0) -> list[list[str]]:
    """Partition ranges over the dynamic partition order: contiguous wanted keys, at most `size` per run,
    and, with audio_s > 0, a run closes once its videos' `durations` (seconds; unknown counts 0) reach
    audio_s: on a GPU a run is sized by the work it brings against its fixed cost, not by a video count."""
    wanted, durations = set(wanted), durations or {}
    out: list[list[str]] = []
    current: list[str] = []
    for key in ordered:
        full = len(current) >= size or (audio_s > 0 and sum(durations.get(k) or 0.0 for k in current) >= audio_s)
        if key in wanted and not full:
            current.append(key)
            continue
        if current:
            out.append(current)
        current = [key] if key in wanted else []
    if current:
        out.append(current)
    return out


def add_partitions(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    """Add unknown keys to the 'videos' partitions (in the given order); returns the ones added."""
    known = set(instance.get_dynamic_partitions(videos.name))
    new = [k for k in dict.fromkeys(keys) if k not in known]
    if new:
        instance.add_dynamic_partitions(videos.name, new)
    return new


def reap_orphan_runs(instance: dg.DagsterInstance) -> list[str]:
    """Runs of this host still marked in progress whose process no longer exists (killed, machine
    rebooted): mark them failed and free their pool slots, or a gpu limit of 1 would wait forever.
    Returns the run ids reaped."""
    import psutil

    reaped = []
    records = instance.get_run_records(dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED],
        tags={HOST_TAG: socket.gethostname()}))
    for record in records:
        run = record.dagster_run
        pid = int(run.tags.get(PID_TAG, "0"))
        if pid and (pid == os.getpid() or psutil.pid_exists(pid)):
            continue
        instance.report_run_failed(run, f"the process that ran it (pid {pid}) is gone: killed or crashed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    return reaped


def materialize(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    keys: list[str],
    *,
    batch_size: int,
    durations: dict[str, float] | None = None,
    on_run: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Run the ingest job for each batch: in this process one run after another (models stay loaded
    between runs), or, with the celery or k8s executor, several runs at once whose steps run elsewhere.
    Runs left behind by a killed process are reaped first."""
    reap_orphan_runs(instance)
    settings = get_settings()
    plan = batches(instance.get_dynamic_partitions(videos.name), keys, batch_size, durations,
                   settings.audio_h_per_run * 3600)
    if settings.executor == "celery" and plan:
        if unserved := unserved_queues(settings.broker_url):
            raise RuntimeError(f"no celery worker consumes queue(s) {', '.join(unserved)} on the broker of "
                               f"CHAFFEE_BROKER_URL: start one, e.g. `chaffee cluster worker {unserved[0]}0 "
                               f"--queues {unserved[0]}`, then run again")
    if settings.executor != "in_process":
        return _materialize_distributed(plan, 2 * settings.gpu_workers, on_run)
    job = defs.resolve_job_def("ingest")
    outcomes = []
    for batch in plan:
        result = job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False,
                                        tags=_run_tags(batch))
        outcomes.append(_outcome(result, batch))
        if on_run:
            on_run(outcomes[-1])
    return outcomes


def _materialize_distributed(plan: list[list[str]], in_flight: int,
                             on_run: Callable[[RunOutcome], None] | None) -> list[RunOutcome]:
    """Each batch a run orchestrated by a process of a pool, `in_flight` at a time (two per GPU: one on
    the GPU, the next downloading); the executor sends their steps to the workers. Processes, not threads:
    Dagster sets up each run's logging through process-wide handlers."""
    outcomes: list[RunOutcome | None] = [None] * len(plan)
    with ProcessPoolExecutor(max(in_flight, 1), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_orchestrate, batch): i for i, batch in enumerate(plan)}
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            if on_run:
                on_run(outcomes[futures[future]])
    return outcomes


def _orchestrate(batch: list[str]) -> RunOutcome:
    """One run of the ingest job from this (pool) process, its steps executed by the job's executor."""
    with dg.DagsterInstance.get() as instance, \
            dg.execute_job(reconstructable_ingest(), instance, run_config=QUIET, tags=_run_tags(batch)) as result:
        return _outcome(result, batch)


def reconstructable_ingest():
    """The ingest job as a pointer another process can load (a run's steps run in other processes)."""
    return ReconstructableRepository.for_module("chaffee_assets.definitions", "defs", str(REPO_ROOT)) \
        .get_reconstructable_job("ingest")


def _run_tags(batch: list[str]) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: batch[0], ASSET_PARTITION_RANGE_END_TAG: batch[-1], **process_tags()}


def _outcome(result, batch: list[str]) -> RunOutcome:
    evaluations = {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}
    return RunOutcome(
        result.run_id,
        batch,
        result.success,
        {name: e.passed for name, e in evaluations.items()},
        {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()},
        {name: e.metadata["failed_videos"].value for name, e in evaluations.items()
         if not e.passed and "failed_videos" in e.metadata},
        [f"{e.step_key}: {e.event_specific_data.error.message.strip()}" for e in result.get_step_failure_events()
         if e.event_specific_data and e.event_specific_data.error],
    )
