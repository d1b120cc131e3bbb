"""Two runs launched together, each in its own process: their gpu-pool steps never overlap, while a
download (io pool) step of one overlaps a gpu step of the other."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from chaffee_assets.defs.runner import add_partitions
from chaffee_assets.settings import get_settings
from chaffee_assets.sources.local import LocalSource
from chaffee_assets.store import catalog, db
from tests.conftest import copy_demo

GPU_STEPS = {"transcripts", "diarization", "embeddings"}
RUN_ONE = Path(__file__).with_name("run_one.py")


def step_spans(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
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


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def launch(key: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(RUN_ONE.parents[2])}
    return subprocess.Popen([sys.executable, str(RUN_ONE), key], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_gpu_pool_serializes_runs_and_downloads_overlap(dagster_env, tmp_path):
    folder = copy_demo(tmp_path, "monologue-01.flac", "monologue-02.flac")
    videos = LocalSource(folder).list()
    with db.session(get_settings()) as conn:
        catalog.register(conn, videos)
    add_partitions(dagster_env, [v.video_id for v in videos])
    first = launch(videos[0].video_id)
    # the second run starts while the first one holds the gpu pool (as a queued run would)
    deadline = time.time() + 120
    while time.time() < deadline:
        runs = dagster_env.get_runs(dg.RunsFilter(tags={"dagster/asset_partition_range_start": videos[0].video_id}))
        if runs and "transcripts" in _started(dagster_env, runs[0].run_id):
            break
        time.sleep(0.2)
    second = launch(videos[1].video_id)
    outs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outs
    a, b = (step_spans(dagster_env, out.strip().splitlines()[-1]) for out, _err in outs)
    for x in GPU_STEPS:
        for y in GPU_STEPS:
            assert not overlaps(a[x], b[y]), f"gpu steps overlap: run A {x} {a[x]} / run B {y} {b[y]}"
    assert any(overlaps(b["raw_audio"], a[step]) for step in GPU_STEPS), (a, b)


def _started(instance, run_id) -> set[str]:
    return {r.dagster_event.step_key for r in instance.all_logs(run_id)
            if r.dagster_event and r.dagster_event.event_type == dg.DagsterEventType.STEP_START}
