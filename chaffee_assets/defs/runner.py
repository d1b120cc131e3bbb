"""Materialize the asset chain for a set of video partitions, a run per contiguous batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from chaffee_assets.defs.partitions import videos

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class RunOutcome:
    run_id: str
    keys: list[str]
    success: bool
    checks: dict[str, bool]  # "asset:check" -> passed
    materialized: set[str]  # asset names materialized by the run


def batches(ordered: list[str], wanted: Iterable[str], size: int) -> list[list[str]]:
    """Partition ranges over the dynamic partition order: contiguous wanted keys, at most `size` per run."""
    wanted = set(wanted)
    out: list[list[str]] = []
    current: list[str] = []
    for key in ordered:
        if key in wanted and len(current) < size:
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


def materialize(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    keys: list[str],
    *,
    batch_size: int,
    on_run: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Run the ingest job in this process for each batch (models stay loaded between runs)."""
    job = defs.resolve_job_def("ingest")
    ordered = instance.get_dynamic_partitions(videos.name)
    outcomes = []
    for batch in batches(ordered, keys, batch_size):
        result = job.execute_in_process(
            instance=instance,
            run_config=QUIET,
            raise_on_error=False,
            tags={ASSET_PARTITION_RANGE_START_TAG: batch[0], ASSET_PARTITION_RANGE_END_TAG: batch[-1]},
        )
        outcome = RunOutcome(
            result.run_id,
            batch,
            result.success,
            {f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed for e in result.get_asset_check_evaluations()},
            {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()},
        )
        outcomes.append(outcome)
        if on_run:
            on_run(outcome)
    return outcomes
