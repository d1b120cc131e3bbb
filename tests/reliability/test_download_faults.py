"""`chaffee ingest` of an RSS feed from the internet-like source server (bench/source_server.py): with a
429 and a cut connection on every file, and killed with -9 while downloading. Every video is stored
exactly once; the reliability report gets a row for each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from chaffee_assets.bench.source_server import Conditions, SourceServer
from chaffee_assets.settings import get_settings
from chaffee_assets.store import catalog, db
from tests.reliability.conftest import audit, chaffee, snapshot, wait_for

ENV = {"CHAFFEE_BACKOFF_S": "0.2", "CHAFFEE_DOWNLOAD_WORKERS": "3", "CHAFFEE_VIDEOS_PER_RUN": "8"}


def episodes(clips, folder, prefix: str):
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in ("mono.flac", "talk.flac"):
        path = folder / f"{prefix}-{name}"
        path.write_bytes((clips / name).read_bytes())
        out.append(path)
    return out


def stored(feed_ids: list[str]) -> tuple[dict[str, str], list[tuple], list[tuple]]:
    with db.session(get_settings()) as conn:
        status = catalog.statuses(conn, feed_ids)
        rows = conn.execute("SELECT video_id, count(*) FROM sources WHERE video_id = ANY(%s) GROUP BY 1",
                            (feed_ids,)).fetchall()
        return status, rows, snapshot(conn, feed_ids)


def feed_ids(paths) -> list[str]:
    from chaffee_assets.sources.rss import rss_id

    return [rss_id(p.stem) for p in paths]


@pytest.mark.slow  # two short videos through the models: ~1 min on 2 cores
def test_ingest_through_429s_and_cut_connections_stores_each_video_once(dagster_env, clips, tmp_path, fault_report):
    paths = episodes(clips, tmp_path / "faulty", "faulty")
    with SourceServer(paths, Conditions.faulty(rate_bps=300_000, latency_s=0.05, first_byte_s=0.05)) as server:
        done = chaffee("ingest", "--source", "rss", "--feed", server.url(), "--no-skip-shorts", env=ENV)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = server.figures()
    assert figures["answered_429"] == 2 and figures["cut_transfers"] == 2 and figures["resumed_206"] >= 2
    ids = feed_ids(paths)
    status, rows, segments = stored(ids)
    assert [status[k] for k in ids] == ["done", "done"]
    assert sorted(n for _, n in rows) == [1, 1] and segments
    _, duplicated = audit(segments, segments)
    assert duplicated == 0
    assert "downloads ahead:" in done.stdout
    fault_report.add("429 + cut connection on every file", "source_server faults, 2 videos", videos_affected=2,
                     rows_lost=0, rows_duplicated=duplicated, recovered=True)


@pytest.mark.slow  # a throttled download killed, then the ingest again: ~1.5 min on 2 cores
def test_kill_9_while_downloading_loses_and_duplicates_nothing(dagster_env, clips, tmp_path, fault_report):
    paths = episodes(clips, tmp_path / "killed", "killed")
    ids = feed_ids(paths)
    slow = Conditions(rate_bps=40_000, latency_s=0.05)  # ~25 s per file: the kill lands mid-transfer
    with SourceServer(paths, slow) as server:
        child = subprocess.Popen([sys.executable, "-m", "chaffee_assets.cli", "ingest", "--source", "rss", "--feed",
                                  server.url(), "--no-skip-shorts"], env={**os.environ, **ENV},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        parts = get_settings().downloads_dir
        wait_for(lambda: any(p.suffix == ".part" and p.stat().st_size > 100_000 for p in parts.rglob("*.part")),
                 120, "a .part file growing")
        helpers = psutil.Process(child.pid).children(recursive=True)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
        gone = psutil.wait_procs(helpers, timeout=10)[1]
        assert not gone, f"download process outlived ingest: {gone}"  # PR_SET_PDEATHSIG
        partial = {p.name: p.stat().st_size for p in parts.rglob("*.part")}
        assert partial
    with SourceServer(paths, Conditions()) as server:  # the same feed again, fast this time
        done = chaffee("ingest", "--source", "rss", "--feed", server.url(), "--no-skip-shorts", env=ENV)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    resumed = [e for log in server.log.values() for e in log if e[0] == 206]
    assert resumed, server.log  # the .part left by the kill was resumed, not fetched again
    status, rows, segments = stored(ids)
    assert [status[k] for k in ids] == ["done", "done"] and sorted(n for _, n in rows) == [1, 1]
    _, duplicated = audit(segments, segments)
    assert segments and duplicated == 0
    fault_report.add("kill -9 mid-download (ingest + its download process)", "SIGKILL, .part on disk",
                     videos_affected=2, rows_lost=0, rows_duplicated=duplicated, recovered="by re-run")
