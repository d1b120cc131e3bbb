"""The ingest job through celery: real Redis and two real workers (gpu0: gpu; io0: io + cpu) on 127.0.0.1,
`chaffee ingest` submitting, the embedded Postgres of a fresh CHAFFEE_HOME. Compared with the same
videos ingested in process."""

import itertools
import os
import shutil
import subprocess
import sys

import numpy as np
import psutil
import pytest

from chaffee_assets import cluster, runtime
from chaffee_assets.definitions import defs
from chaffee_assets.defs.executors import step_queues
from chaffee_assets.settings import REPO_ROOT, get_settings
from chaffee_assets.store import db
from tests.conftest import copy_demo
from tests.defs.test_pools import overlaps, step_spans

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server not installed (make system-deps)")
VIDEOS = ("interview-01.flac", "monologue-01.flac")  # both speaker paths: diarized and monologue fast-path


def stored_segments(settings) -> list[tuple]:
    """Every stored segment (video, place, speaker, text, vector) in a stable order."""
    with db.session(settings) as conn:
        rows = conn.execute(
            "SELECT s.video_id, g.seq, g.start_s, g.end_s, g.speaker, g.text, g.embedding FROM segments g"
            " JOIN sources s ON s.id = g.source_id ORDER BY s.video_id, g.seq").fetchall()
    return [(*row[:6], row[6].to_numpy()) for row in rows]


def ingest_in_process(folder, home) -> list[tuple]:
    env = {**os.environ, "CHAFFEE_HOME": str(home), "CHAFFEE_EXECUTOR": "in_process",
           "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-m", "chaffee_assets.cli", "ingest", "--source", "local", "--path",
                           str(folder)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    os.environ["CHAFFEE_HOME"] = str(home)
    try:
        return stored_segments(get_settings())
    finally:
        db.stop_embedded(get_settings())


def test_ingest_on_celery_workers_matches_in_process(tmp_path, restore_env):
    folder = copy_demo(tmp_path / "audio", *VIDEOS)
    reference = ingest_in_process(folder, tmp_path / "in_process")

    os.environ["CHAFFEE_HOME"] = str(tmp_path / "cluster")
    settings = get_settings()
    runtime.prepare(settings)
    try:
        with cluster.local_cluster(cluster.DEMO_WORKERS, tmp_path / "cluster-logs") as up:
            workers = list(up.workers.values())
            code, _wall = cluster.ingest(up, folder, videos_per_run=1)  # one run per video, both in flight
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
            spans = step_spans(instance, run.run_id)
            gpu_spans += [(run.run_id, step, spans[step]) for step, worker in ran_by.items() if worker == "gpu0"]
        assert len(gpu_spans) == 3 * len(VIDEOS)  # transcripts, diarization, embeddings of each video
        for a, b in itertools.combinations(gpu_spans, 2):
            assert not overlaps(a[2], b[2]), f"the gpu worker ran two steps at once: {a} / {b}"

        stored = stored_segments(settings)
        assert [row[:6] for row in stored] == [row[:6] for row in reference]
        for mine, theirs in zip(stored, reference):
            np.testing.assert_allclose(mine[6], theirs[6], atol=1e-4)
    finally:
        db.stop_embedded(settings)
