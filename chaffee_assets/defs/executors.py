"""Where the ingest job's steps run, chosen by CHAFFEE_EXECUTOR; the assets are the same in every case.

- in_process (default): every step in `chaffee ingest`'s own process, models kept between runs.
- celery: each step is a celery task on the queue named after its pool (`gpu`, `io`, `cpu`), taken by
  workers started with `chaffee cluster worker`: one per GPU with concurrency 1, all on queue `gpu`.
- k8s: each step a Kubernetes Job (dagster-k8s) with the resources deploy/k8s/executor.yaml gives it.
"""

from __future__ import annotations

import os
import socket
import warnings

import dagster as dg

from chaffee_assets.settings import REPO_ROOT, Settings

QUEUE_TAG = "dagster-celery/queue"  # the op tag dagster-celery routes a step by
EXECUTORS = ("in_process", "celery", "k8s")
QUEUES = ("gpu", "io", "cpu")  # celery queues, named after the pools
K8S_EXECUTOR_CONFIG = REPO_ROOT / "deploy" / "k8s" / "executor.yaml"
# Runs executed in a `chaffee` process carry its host and pid: a run whose process is gone was killed.
HOST_TAG, PID_TAG = "chaffee/host", "chaffee/pid"
DEFAULT_QUEUE = "cpu"  # steps without a queue tag: the asset checks' own steps (queries, no model)


def queue(pool: str | None) -> str:
    """The celery queue of an asset's step: its pool's name; outside any pool (speaker_labels) `cpu`."""
    return pool or DEFAULT_QUEUE


def step_queues(job: dg.JobDefinition) -> dict[str, str]:
    """{step: celery queue} of a job run by the celery executor."""
    return {op.name: op.tags.get(QUEUE_TAG, DEFAULT_QUEUE) for op in job.graph.node_defs}


def celery_config(settings: Settings) -> dict:
    """The celery executor's config; the workers build their app from the same dict, so both ends agree."""
    from dagster_celery.defaults import broker_transport_options

    return {
        "broker": settings.broker_url,
        "backend": settings.broker_url,
        "config_source": {
            "task_default_queue": DEFAULT_QUEUE,
            # Acked when done and no prefetch: a worker holds only the step it runs, so an idle GPU worker
            # takes the next gpu step instead of it waiting behind a busy worker's reserved one.
            "worker_prefetch_multiplier": 1,
            "task_acks_late": True,
            # An unacked step goes back to the queue after this long: longer than any batch's GPU step.
            "broker_transport_options": {**broker_transport_options, "visibility_timeout": 12 * 3600},
        },
    }


def executor_def(settings: Settings) -> dg.ExecutorDefinition | None:
    """The ingest job's executor; None leaves Dagster's default (`chaffee ingest` runs it in process)."""
    if settings.executor not in EXECUTORS:
        raise ValueError(f"CHAFFEE_EXECUTOR={settings.executor!r} is not one of {', '.join(EXECUTORS)}")
    if settings.executor == "celery":
        from celery.exceptions import DuplicateTaskNameWarning
        from dagster_celery import celery_executor

        # dagster-celery declares its step task again for each step it submits: the same task, same name
        warnings.filterwarnings("ignore", category=DuplicateTaskNameWarning)

        return celery_executor.configured(celery_config(settings), name="celery")
    if settings.executor == "k8s":
        import yaml
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(yaml.safe_load(K8S_EXECUTOR_CONFIG.read_text()), name="k8s")
    return None


def process_tags() -> dict[str, str]:
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def runs_here(run: dg.DagsterRun) -> bool:
    """Whether every step of this run executes in this process (a `chaffee` in-process run), so a model
    one step loads is there for the next."""
    return all(run.tags.get(tag) == value for tag, value in process_tags().items())


def unserved_queues(broker_url: str) -> list[str]:
    """The queues of QUEUES no live worker consumes: their steps would wait in the broker for ever."""
    from celery import Celery

    app = Celery("inspect", broker=broker_url)
    try:
        replies = app.control.inspect(timeout=1.0).active_queues() or {}
    finally:
        app.close()
    served = {queue["name"] for queues in replies.values() for queue in queues}
    return [q for q in QUEUES if q not in served]
