"""A celery cluster on this machine: Redis as the broker and `chaffee cluster worker` processes, all on
127.0.0.1 with ports chosen free; and who ran which step, read back from the Dagster event log."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from chaffee_assets.defs.executors import QUEUES
from chaffee_assets.processes import stop_tree
from chaffee_assets.settings import REPO_ROOT

CELERY_APP = "chaffee_assets.defs.celery_app"
WORKER_FIELD = "Celery worker"  # dagster-celery's metadata on the event a worker logs when it takes a step
# `make cluster-demo`: one worker for the GPU, one for downloads and the CPU step.
DEMO_WORKERS = {"gpu0": ("gpu",), "io0": ("io", "cpu")}


@dataclass
class Cluster:
    broker_url: str
    workers: dict[str, subprocess.Popen]  # name -> process
    env: dict[str, str]  # what a submitting process needs to use this cluster


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_argv(name: str, queues: tuple[str, ...], concurrency: int) -> list[str]:
    """A celery worker named name@host on the given queues; a gpu worker runs one step at a time."""
    unknown = set(queues) - set(QUEUES)
    if unknown or not queues:
        raise ValueError(f"worker {name}: queues must be among {', '.join(QUEUES)} (got {', '.join(queues) or 'none'})")
    if "gpu" in queues and concurrency != 1:
        raise ValueError(f"worker {name}: a gpu worker runs one step at a time (concurrency 1, one worker per GPU)")
    return [sys.executable, "-m", "celery", "-A", CELERY_APP, "worker", "-Q", ",".join(queues), "-c", str(concurrency),
            "-n", f"{name}@%h", "-l", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]


def _wait(ready, what: str, proc: subprocess.Popen, log: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} did not start (exit code {proc.poll()}); its log {log}:\n{tail}")
        time.sleep(0.3)


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    """Debian's redis-server on 127.0.0.1 and a free port, nothing persisted (a restart starts empty)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found: `make system-deps` installs it (Debian package redis-server)")
    import redis

    port, log = free_port(), folder / "redis.log"
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(folder), "--logfile", str(log)], stdout=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    _wait(answers, f"redis-server on 127.0.0.1:{port}", proc, log)
    return proc, f"redis://127.0.0.1:{port}/0"


def start_worker(name: str, queues: tuple[str, ...], env: Mapping[str, str], log: Path) -> subprocess.Popen:
    """`chaffee cluster worker` in its own session (a terminal's Ctrl-C reaches only the parent)."""
    argv = [sys.executable, "-m", "chaffee_assets.cli", "cluster", "worker", name, "--queues", ",".join(queues)]
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=dict(env), cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def answering(broker_url: str, names: list[str]) -> set[str]:
    """The workers (by name) that answer a ping through the broker."""
    from celery import Celery

    app = Celery("ping", broker=broker_url)
    try:
        replies = app.control.ping(timeout=1.0)
    finally:
        app.close()
    hosts = {host.split("@", 1)[0] for reply in replies for host in reply}
    return hosts & set(names)


def wait_answering(up: Cluster, name: str, proc: subprocess.Popen, log: Path) -> None:
    _wait(lambda: name in answering(up.broker_url, [name]), f"worker {name}", proc, log)


@contextmanager
def local_cluster(workers: Mapping[str, tuple[str, ...]], folder: Path) -> Iterator[Cluster]:
    """Redis and the workers, up and answering; everything stopped on exit. The workers (and whatever
    `env` is given to) use the celery executor with a gpu pool of one slot per gpu worker."""
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        redis_proc, broker_url = start_redis(folder)
        stack.callback(stop_tree, redis_proc, 30.0)
        env = {**os.environ, "CHAFFEE_EXECUTOR": "celery", "CHAFFEE_BROKER_URL": broker_url,
               "CHAFFEE_GPU_WORKERS": str(sum("gpu" in queues for queues in workers.values())),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
        procs = {}
        for name, queues in workers.items():
            procs[name] = start_worker(name, queues, env, folder / f"{name}.log")
            stack.callback(stop_tree, procs[name], 60.0)
        up = Cluster(broker_url, procs, env)
        for name, proc in procs.items():
            wait_answering(up, name, proc, folder / f"{name}.log")
        yield up


def start_ingest(up: Cluster, folder: Path, videos_per_run: int) -> subprocess.Popen:
    """`chaffee ingest --force` of a local folder, submitting to the cluster."""
    argv = [sys.executable, "-m", "chaffee_assets.cli", "ingest", "--source", "local", "--path", str(folder), "--force"]
    return subprocess.Popen(argv, env={**up.env, "CHAFFEE_VIDEOS_PER_RUN": str(videos_per_run)}, cwd=REPO_ROOT)


def ingest(up: Cluster, folder: Path, videos_per_run: int) -> tuple[int, float]:
    """start_ingest, waited for; returns (exit code, wall seconds). Interrupted (Ctrl-C, SIGTERM), the
    ingest is stopped too."""
    start = time.monotonic()
    proc = start_ingest(up, folder, videos_per_run)
    try:
        code = proc.wait()
    except BaseException:
        stop_tree(proc, 30.0)
        raise
    return code, time.monotonic() - start


def step_workers(instance, run_id: str) -> dict[str, str]:
    """{step: worker name} for a run executed by the celery executor."""
    import dagster as dg

    found = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        metadata = event.engine_event_data.metadata if event.engine_event_data else {}
        if event.step_key and WORKER_FIELD in metadata:
            found[event.step_key] = str(metadata[WORKER_FIELD].value).split("@", 1)[0]
    return found


def step_spans(instance, run_id: str) -> dict[str, tuple[float, float]]:
    """{step: (start, end)} wall-clock timestamps of a run's finished steps."""
    import dagster as dg

    starts, ends = {}, {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[event.step_key] = record.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            ends[event.step_key] = record.timestamp
    return {k: (starts[k], ends[k]) for k in starts if k in ends}


def report(instance, since: float, wall: float) -> Iterator[str]:
    """Lines: each run since `since` (epoch s) with its steps' queue, worker and seconds; then each
    worker's steps and busy time over the ingest's `wall` seconds."""
    import dagster as dg

    from chaffee_assets.definitions import defs
    from chaffee_assets.defs.executors import step_queues

    queues, per_worker = step_queues(defs.resolve_job_def("ingest")), {}
    after = dg.RunsFilter(created_after=datetime.fromtimestamp(since, timezone.utc))
    for record in sorted(instance.get_run_records(after), key=lambda r: r.create_timestamp):
        run = record.dagster_run
        yield f"run {run.run_id[:8]} ({run.tags.get('dagster/asset_partition_range_start')}): {run.status.value}"
        spans = step_spans(instance, run.run_id)
        for step, worker in step_workers(instance, run.run_id).items():
            seconds = spans[step][1] - spans[step][0] if step in spans else 0.0
            yield f"  {step:<32} queue {queues.get(step, '?'):<4} worker {worker:<6} {seconds:6.1f} s"
            count, busy = per_worker.get(worker, (0, 0.0))
            per_worker[worker] = (count + 1, busy + seconds)
    for worker, (count, busy) in sorted(per_worker.items()):
        yield f"{worker}: {count} steps, busy {busy:.1f} s of the ingest's {wall:.1f} s ({busy / wall:.0%})"
