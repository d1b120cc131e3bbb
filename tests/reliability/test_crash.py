"""kill -9 of `chaffee ingest` during a download, during ASR and during the embeddings write, then a
re-run: nothing partial is visible, nothing is duplicated, the re-run completes on its own (the killed
run is reaped and its gpu pool slot freed), and the embedded Postgres outlives its killed owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import dagster as dg
import psycopg
import pytest

from chaffee_assets.defs.executors import PID_TAG
from chaffee_assets.settings import get_settings
from chaffee_assets.sources.local import LocalSource
from chaffee_assets.sources.rss import rss_id
from chaffee_assets.store import db
from chaffee_assets.store.files import Files
from tests.reliability.conftest import audit, chaffee, snapshot, wait_for
from tests.sources.conftest import MediaServer, clip, feed


def start_ingest(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "chaffee_assets.cli", "ingest", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def run_of(instance: dg.DagsterInstance, proc: subprocess.Popen, job: str) -> dg.DagsterRun | None:
    """The `job` run (download or process) `proc` is executing, in itself or in its download process
    (defs/ahead.py forks one; both kinds run at once, so the job name picks the one meant)."""
    import psutil

    for pid in [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]:
        runs = instance.get_runs(dg.RunsFilter(job_name=job, tags={PID_TAG: str(pid)}), limit=1)
        if runs:
            return runs[0]
    return None


def step_events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> set[str]:
    return {r.dagster_event.step_key for r in instance.all_logs(run_id, of_type=kind)}


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def statuses(conn, ids) -> dict[str, str]:
    return dict(conn.execute("SELECT video_id, status FROM sources WHERE video_id = ANY(%s)", (ids,)).fetchall())


@pytest.fixture(scope="module")
def local(dagster_env, clips):
    """Both clips ingested cleanly once by the command line: the reference every crash is audited against."""
    done = chaffee("ingest", "--source", "local", "--path", str(clips))
    assert done.returncode == 0, done.stderr[-3000:]
    ids = [v.video_id for v in LocalSource(clips).list()]
    with db.session(get_settings()) as conn:
        reference = snapshot(conn, ids)
    assert {r[0] for r in reference} == set(ids)
    return ids, reference


def recover_and_audit(instance, killed: dg.DagsterRun, ids, reference, args, fault_report, fault, injected):
    """Re-run the same command: it reaps the killed run (slots freed) and completes; audit the rows."""
    again = chaffee("ingest", *args, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert not any(s.run_id == killed.run_id for s in instance.event_log_storage.get_concurrency_info("gpu").claimed_slots)
    with db.session(get_settings()) as conn:
        after = snapshot(conn, ids)
        assert set(statuses(conn, ids).values()) == {"done"}
    lost, duplicated = audit(reference, after)
    assert (lost, duplicated) == (0, 0)
    assert {r[0] for r in after} == set(ids)
    fault_report.add(fault, injected, videos_affected=len(ids), rows_lost=lost, rows_duplicated=duplicated,
                     recovered=True)
    return after


def test_kill_during_asr(dagster_env, local, clips, fault_report):
    ids, reference = local
    args = ("--source", "local", "--path", str(clips), "--force")
    proc = start_ingest(*args)
    run = wait_for(lambda: run_of(dagster_env, proc, "process"), 300, "the process run to start")
    wait_for(lambda: "transcripts" in step_events(dagster_env, run.run_id, dg.DagsterEventType.STEP_START),
             300, "the transcripts step")
    kill(proc)
    assert "transcripts" not in step_events(dagster_env, run.run_id, dg.DagsterEventType.STEP_SUCCESS)
    # the killed run still holds the gpu slot: without reaping, gpu=1 would block every later run
    claimed = dagster_env.event_log_storage.get_concurrency_info("gpu").claimed_slots
    assert any(s.run_id == run.run_id for s in claimed)
    with db.session(get_settings()) as conn:
        assert snapshot(conn, ids) == reference  # search still sees the last complete version, nothing else
    recover_and_audit(dagster_env, run, ids, reference, args, fault_report, "kill -9 during ASR",
                      "SIGKILL after the transcripts step started")


def test_kill_during_embeddings_write(dagster_env, local, clips, fault_report):
    """The write is held mid-transaction by a lock the test takes, so the kill lands inside it."""
    ids, reference = local
    args = ("--source", "local", "--path", str(clips), "--force")
    url = db.database_url(get_settings())
    with psycopg.connect(url) as blocker, psycopg.connect(url, autocommit=True) as watcher:
        blocker.execute("LOCK TABLE segments IN SHARE MODE")  # readers go on, the replace waits
        proc = start_ingest(*args)
        wait_for(lambda: watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE 'DELETE FROM segments%'").fetchone()[0], 300, "the embeddings write")
        run = run_of(dagster_env, proc, "process")
        kill(proc)
        assert snapshot(watcher, ids) == reference
        blocker.rollback()  # the orphaned transaction now finds its client gone and rolls back
    with db.session(get_settings()) as conn:
        wait_for(lambda: not conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'DELETE FROM segments%' AND state <> 'idle'"
            " AND pid <> pg_backend_pid()").fetchone()[0], 60, "the orphaned write to end")
        assert snapshot(conn, ids) == reference
        assert set(statuses(conn, ids).values()) == {"labelled"}  # not 'done': the write never committed
    recover_and_audit(dagster_env, run, ids, reference, args, fault_report, "kill -9 during embeddings write",
                      "SIGKILL inside the replace transaction")


def test_kill_during_download(dagster_env, fault_report):
    """An RSS item whose media hangs half-way: the process is killed mid-download; the re-run completes."""
    server = MediaServer()
    server.thread.start()
    hold = threading.Event()
    try:
        media = server.add("/ep1.flac", clip("monologue-02.flac", 20), hold=hold)
        url = server.add("/feed.xml", feed("Crash feed", [{"title": "Episode 1", "guid": "crash-ep-1", "url": media}]),
                         "application/rss+xml")
        key = rss_id("crash-ep-1")
        settings = get_settings()
        proc = start_ingest("--source", "rss", "--feed", url, "--no-skip-shorts")
        wait_for(server.holding.is_set, 300, "the download to start")
        wait_for(lambda: any((settings.downloads_dir / key).glob("*.part")), 60, "a partial file")
        run = run_of(dagster_env, proc, "download")
        kill(proc)
        assert not Files(settings).audio(key).exists()  # no half-converted audio left to be taken as whole
        with db.session(settings) as conn:
            assert snapshot(conn, [key]) == []
            assert statuses(conn, [key])[key] != "done"
        hold.set()
        recover_and_audit(dagster_env, run, [key], [], ("--source", "rss", "--feed", url, "--no-skip-shorts"),
                          fault_report, "kill -9 during download", "SIGKILL with half the media fetched")
    finally:
        hold.set()
        server.httpd.shutdown()
        server.httpd.server_close()
