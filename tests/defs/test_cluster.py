"""The ingest job through celery: real Redis and two real workers (gpu0: gpu; io0: io + cpu) on 127.0.0.1,
`chaffee ingest` submitting, the embedded Postgres of a fresh CHAFFEE_HOME. Compared with the same
videos ingested in process."""

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time

import dagster as dg
from dagster._core.utils import make_new_run_id
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import pack_value

import numpy as np
import psutil
import pytest

from chaffee_assets import cluster, runtime
from chaffee_assets.definitions import defs
from chaffee_assets.defs.executors import step_queues
from chaffee_assets.defs.runner import add_partitions, materialize, reconstructable_ingest
from chaffee_assets.processes import stop_tree
from chaffee_assets.settings import REPO_ROOT, Settings, get_settings
from chaffee_assets.store import db
from tests.conftest import copy_demo
from tests.defs.test_pools import overlaps

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server not installed (make system-deps)")
VIDEOS = ("interview-01.flac", "monologue-01.flac")  # both speaker paths: diarized and monologue fast-path
# Exported by the session's runtime.prepare; a later prepare keeps an exported Dagster storage URL.
SESSION_STORAGE = ("CHAFFEE_DAGSTER_PG_URL", "DAGSTER_HOME", "DATABASE_URL")


def stored_segments(settings) -> list[tuple]:
    """Every stored segment (video, place, speaker, text, vector) in a stable order."""
    with db.session(settings) as conn:
        rows = conn.execute(
            "SELECT s.video_id, g.seq, g.start_s, g.end_s, g.speaker, g.text, g.embedding FROM segments g"
            " JOIN sources s ON s.id = g.source_id ORDER BY s.video_id, g.seq").fetchall()
    return [(*row[:6], row[6].to_numpy()) for row in rows]


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    return copy_demo(tmp_path_factory.mktemp("audio"), *VIDEOS)


@pytest.fixture(scope="module")
def in_process_segments(demo_folder, tmp_path_factory) -> list[tuple]:
    """The segments of the same videos ingested in process (`chaffee ingest`, its own CHAFFEE_HOME)."""
    home = tmp_path_factory.mktemp("in_process")
    env = {k: v for k, v in os.environ.items() if k not in SESSION_STORAGE}
    env.update(CHAFFEE_HOME=str(home), CHAFFEE_EXECUTOR="in_process", PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-m", "chaffee_assets.cli", "ingest", "--source", "local", "--path",
                           str(demo_folder)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    settings = Settings(home=home)
    try:
        return stored_segments(settings)
    finally:
        db.stop_embedded(settings)


@pytest.fixture()
def cluster_home(tmp_path, restore_env):
    """A fresh CHAFFEE_HOME prepared in this process (to read its instance), its database stopped after."""
    for name in SESSION_STORAGE:  # the session's Dagster storage (other tests' runs) is not this cluster's
        os.environ.pop(name, None)
    os.environ["CHAFFEE_HOME"] = str(tmp_path / "cluster")
    settings = get_settings()
    runtime.prepare(settings)
    yield settings
    db.stop_embedded(settings)


def assert_same_segments(stored: list[tuple], reference: list[tuple]) -> None:
    assert [row[:6] for row in stored] == [row[:6] for row in reference]
    for mine, theirs in zip(stored, reference):
        np.testing.assert_allclose(mine[6], theirs[6], atol=1e-4)


def test_ingest_on_celery_workers_matches_in_process(demo_folder, in_process_segments, cluster_home, tmp_path):
    with cluster.local_cluster(cluster.DEMO_WORKERS, tmp_path / "cluster-logs") as up:
        workers = list(up.workers.values())
        code, _wall = cluster.ingest(up, demo_folder, videos_per_run=1)  # one run per video, both in flight
    assert code == 0
    assert not any(psutil.pid_exists(w.pid) and psutil.Process(w.pid).status() != psutil.STATUS_ZOMBIE
                   for w in workers), "a worker outlived the cluster"
    instance = runtime.instance()
    runs = instance.get_runs()
    assert len(runs) == len(VIDEOS) and all(r.is_success for r in runs)
    queues = step_queues(defs.resolve_job_def("ingest"))
    gpu_spans = []
    for run in runs:
        ran_by = cluster.step_workers(instance, run.run_id)
        assert set(ran_by) == set(queues), f"run {run.run_id}: steps without a worker"
        for step, worker in ran_by.items():
            assert queues[step] in cluster.DEMO_WORKERS[worker], f"{step} ({queues[step]}) ran on {worker}"
        spans = cluster.step_spans(instance, run.run_id)
        gpu_spans += [(run.run_id, step, spans[step]) for step, worker in ran_by.items() if worker == "gpu0"]
    assert len(gpu_spans) == 3 * len(VIDEOS)  # transcripts, diarization, embeddings of each video
    for a, b in itertools.combinations(gpu_spans, 2):
        assert not overlaps(a[2], b[2]), f"the gpu worker ran two steps at once: {a} / {b}"
    assert_same_segments(stored_segments(cluster_home), in_process_segments)


def started_steps(instance) -> set[str]:
    return {r.dagster_event.step_key for run in instance.get_runs() for r in instance.all_logs(run.run_id)
            if r.dagster_event and r.dagster_event.event_type == dg.DagsterEventType.STEP_START}


@pytest.mark.slow  # ~3.5 min on 2 cores: a second ingest after the kill
def test_killed_gpu_worker_leaves_no_partial_video_and_a_rerun_completes(demo_folder, in_process_segments,
                                                                          cluster_home, tmp_path):
    logs = tmp_path / "cluster-logs"
    instance = runtime.instance()
    with cluster.local_cluster(cluster.DEMO_WORKERS, logs) as up:
        submitting = cluster.start_ingest(up, demo_folder, videos_per_run=1)
        try:
            deadline = time.monotonic() + 300
            # the first video's last step (embeddings: vectors, then its segments written) is under way
            while "embeddings" not in started_steps(instance):
                assert time.monotonic() < deadline and submitting.poll() is None, "embeddings never started"
                time.sleep(0.2)
            time.sleep(0.5)
            os.killpg(up.workers["gpu0"].pid, signal.SIGKILL)  # the worker and the step it runs
            up.workers["gpu0"].wait()
            time.sleep(3.0)
        finally:
            stop_tree(submitting, 10.0)  # the operator stops the ingest whose gpu worker is gone
        # every video is all there or not there: never a partial set of segments
        stored = stored_segments(cluster_home)
        with db.session(cluster_home) as conn:
            done = {v for (v,) in conn.execute("SELECT video_id FROM sources WHERE status = 'done'").fetchall()}
        assert len(done) < len(VIDEOS), "the killed step's video was finished anyway"
        assert [row for row in stored if row[0] not in done] == []
        assert_same_segments(stored, [row for row in in_process_segments if row[0] in done])

        replacement = cluster.start_worker("gpu0", cluster.DEMO_WORKERS["gpu0"], up.env, logs / "gpu0-again.log")
        try:
            cluster.wait_answering(up, "gpu0", replacement, logs / "gpu0-again.log")
            code, _wall = cluster.ingest(up, demo_folder, videos_per_run=1)
        finally:
            stop_tree(replacement, 60.0)
    assert code == 0
    assert_same_segments(stored_segments(cluster_home), in_process_segments)


def test_a_step_of_an_ended_run_is_dropped_by_the_worker_task(dagster_env):
    """A step a killed worker held comes back from the broker hours later: its run was reaped by then."""
    from chaffee_assets.defs import celery_app

    job = reconstructable_ingest()
    run = dagster_env.add_run(dg.DagsterRun(job_name="ingest", run_id=make_new_run_id(),
                                            status=dg.DagsterRunStatus.FAILURE))
    step = ExecuteStepArgs(job_origin=job.get_python_origin(), run_id=run.run_id,
                           step_keys_to_execute=["transcripts"], instance_ref=dagster_env.get_ref())
    result = celery_app.execute_plan.apply(kwargs={"execute_step_args_packed": pack_value(step),
                                                   "executable_dict": job.to_dict()})
    assert result.get() == []
    assert not any(r.dagster_event for r in dagster_env.all_logs(run.run_id)), "the step ran"


def test_ingest_refuses_to_submit_to_queues_no_worker_consumes(dagster_env, tmp_path, restore_env):
    redis_server, broker_url = cluster.start_redis(tmp_path)
    try:
        os.environ.update(CHAFFEE_EXECUTOR="celery", CHAFFEE_BROKER_URL=broker_url)
        add_partitions(dagster_env, ["any-video"])
        with pytest.raises(RuntimeError, match="no celery worker consumes queue.s. gpu, io, cpu"):
            materialize(defs, dagster_env, ["any-video"], batch_size=1)
        assert not dagster_env.get_runs(dg.RunsFilter(tags={"dagster/asset_partition_range_start": "any-video"}))
    finally:
        stop_tree(redis_server, 30.0)
        dagster_env.delete_dynamic_partition("videos", "any-video")
