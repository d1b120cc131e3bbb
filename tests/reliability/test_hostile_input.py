"""Hostile input: video ids, titles and file names with quotes, unicode, SQL fragments, path separators
and `..`. Ids are validated before anything is stored or a path is built, SQL is parameterized (titles are
stored verbatim, tables survive), and no file lands outside CHAFFEE_HOME."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from chaffee_assets.definitions import defs
from chaffee_assets.defs.runner import add_partitions, materialize
from chaffee_assets.settings import get_settings
from chaffee_assets.sources.base import Video
from chaffee_assets.sources.local import LocalSource
from chaffee_assets.store import catalog, db, segments
from chaffee_assets.store.files import VIDEO_ID, Files, InvalidVideoId, check_video_id
from tests.reliability import media as m
from tests.reliability.conftest import audit, snapshot

DROP = "x'); DROP TABLE segments; --"
HOSTILE_IDS = [
    "../../etc/passwd", "..", ".", "a/b", "/abs", "a\\..\\b", "x'", 'x"y', DROP, "1 OR 1=1", "id with space",
    "ünïcode", "日本語", "emoji-🎙", "", "a" * 65, "abc\x00def", "\nabc", "abc\t", "abc\r", "~root", "$(id)", "%2e%2e%2f",
]
HOSTILE_TITLES = [
    DROP, "Robert'); DELETE FROM sources WHERE ('1'='1", 'He said "carnivore" \\ back\\slash', "O'Brien's \"diet\"",
    "Ünïcödé — 日本語 · 🥩", "../../../etc/passwd", "%s %(q)s {0} $1 :name ?", "null\x01byte-ish \u202etxt.exe",
]
# Names a folder of media can really hold (no '/', no NUL), each meant to trip a careless id or path
HOSTILE_NAMES = [
    "..flac", "...flac", "..\\..\\evil.flac", "it's \"quoted\".flac", "ünïcödé 日本語.flac",
    "x'); DROP TABLE segments; --.flac", "  spaces  .flac", "-leading-dash.flac", "$(touch pwned).flac",
]


def test_hostile_ids_are_rejected():
    for bad in HOSTILE_IDS:
        with pytest.raises(InvalidVideoId):
            check_video_id(bad)
    for ok in ["dQw4w9WgXcQ", "-abc_DEF-12", "_x", "a" * 64]:  # YouTube ids may lead with - or _
        assert check_video_id(ok) == ok


def test_an_id_with_a_trailing_newline_is_rejected():
    with pytest.raises(InvalidVideoId):
        check_video_id("abc\n")


def test_paths_cannot_escape_chaffee_home(home):
    files = Files(get_settings())
    for bad in HOSTILE_IDS:
        with pytest.raises(InvalidVideoId):
            files.audio(bad)
        with pytest.raises(InvalidVideoId):
            files.stage(bad, "transcript.parquet")
    for name in ["../../../escape.parquet", "../../../../../../etc/passwd", "/tmp/abs.parquet"]:
        with pytest.raises(InvalidVideoId):
            files.stage("good-id", name)
    # stage names are constants of the code, not input; even so a '..' one cannot leave the work folder
    assert files.stage("good-id", "../other/x.parquet").is_relative_to(get_settings().work_dir.resolve())
    for path in [files.audio("-abc_DEF-12"), files.stage("_x", "transcript.parquet")]:
        assert path.is_relative_to(home.resolve())


def test_hostile_ids_never_reach_the_database(conn):
    before = conn.execute("SELECT count(*) FROM sources").fetchone()[0]
    for bad in HOSTILE_IDS:
        video = Video(bad, "local", "file:///dev/null", title="t")
        with pytest.raises(InvalidVideoId):
            catalog.register(conn, [video])
        with pytest.raises(InvalidVideoId):
            catalog.mark(conn, bad, "failed", error="x")
    assert conn.execute("SELECT count(*) FROM sources").fetchone()[0] == before


def _clip_variants(folder: Path) -> dict[str, str]:
    """One short clip per hostile name, each a different stretch of the demo (so different content)."""
    clip = m.demo_clip("monologue-02.flac", 60.0)
    names = {}
    for i, name in enumerate(HOSTILE_NAMES):
        start = int(i * 5.5 * m.RATE)
        sf.write(folder / name, clip[start : start + 6 * m.RATE], m.RATE, format="FLAC")
        names[name] = Path(name).stem
    return names


@pytest.fixture(scope="module")
def hostile_folder(dagster_env, tmp_path_factory):
    """A folder of files with hostile names, ingested through one Dagster run."""
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "media"
    folder.mkdir()
    stems = _clip_variants(folder)
    outside_before = sorted(p.name for p in root.iterdir())
    videos = LocalSource(folder).list()
    with db.session(get_settings()) as conn:
        catalog.register(conn, videos)
    keys = [v.video_id for v in videos]
    add_partitions(dagster_env, keys)
    outcomes = materialize(defs, dagster_env, keys, batch_size=len(keys))
    return {"videos": videos, "stems": stems, "outcomes": outcomes, "root": root,
            "outside_before": outside_before}


def test_hostile_file_names_get_safe_ids_and_ingest(hostile_folder, conn, home):
    videos = hostile_folder["videos"]
    assert len(videos) == len(HOSTILE_NAMES)
    assert len({v.video_id for v in videos}) == len(videos)  # "." and ".." do not collapse into one id
    for v in videos:
        assert VIDEO_ID.match(v.video_id), v.video_id
        assert ".." not in v.video_id and "/" not in v.video_id and "\\" not in v.video_id
    by_title = dict(conn.execute(
        "SELECT title, status FROM sources WHERE video_id = ANY(%s)", ([v.video_id for v in videos],)).fetchall())
    # titles are the file stems, stored verbatim (quotes, unicode, backslashes, the SQL fragment)
    assert set(by_title) == set(hostile_folder["stems"].values())
    assert set(by_title.values()) == {"done"}
    rows = snapshot(conn, [v.video_id for v in videos])
    assert {r[0] for r in rows} == {v.video_id for v in videos}  # every one stored segments


def test_nothing_was_written_outside_chaffee_home(hostile_folder, home):
    root = hostile_folder["root"]
    assert sorted(p.name for p in root.iterdir()) == hostile_folder["outside_before"]
    assert not (Path.cwd() / "pwned").exists() and not list(root.rglob("pwned"))
    assert sorted(p.name for p in (root / "media").iterdir()) == sorted(HOSTILE_NAMES)  # sources untouched
    files = Files(get_settings())
    for v in hostile_folder["videos"]:
        assert files.audio(v.video_id).is_file()
        for path in [files.audio(v.video_id), *files.stage(v.video_id, "x").parent.iterdir()]:
            assert path.resolve().is_relative_to(home.resolve()), path
    for dirpath, _dirs, names in os.walk(home / "work"):
        for name in names:
            assert re.fullmatch(r"[A-Za-z0-9_.-]+", name), (dirpath, name)


def test_sql_fragments_are_stored_verbatim_and_tables_survive(hostile_folder, conn, fault_report):
    video_ids = [v.video_id for v in hostile_folder["videos"]]
    before = snapshot(conn, video_ids)
    tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    n_sources = conn.execute("SELECT count(*) FROM sources").fetchone()[0]

    hostile = [Video(f"hostile-title-{i}", "local", f"file:///tmp/{i}'--.flac", title=title,
                     published_at=datetime(2024, 1, 1, tzinfo=timezone.utc),
                     metadata={"description": title, "channel": title, DROP: title, "path": title})
               for i, title in enumerate(HOSTILE_TITLES)]
    catalog.register(conn, hostile)
    for i, title in enumerate(HOSTILE_TITLES):
        catalog.mark(conn, f"hostile-title-{i}", "failed", error=title, metadata={"note": title})
    # a search filtered by a hostile speaker name matches no one (it is a value, not SQL)
    query = np.ones(384, dtype=np.float32) / np.sqrt(384)
    assert segments.search(conn, query, k=5, speaker="' OR '1'='1") == []
    assert segments.search(conn, query, k=5, speaker=DROP) == []

    stored = conn.execute(
        "SELECT video_id, title, description, channel, error, metadata FROM sources"
        " WHERE video_id LIKE 'hostile-title-%' ORDER BY id").fetchall()
    assert [r[1] for r in stored] == HOSTILE_TITLES
    for (_vid, title, description, channel, error, metadata), expected in zip(stored, HOSTILE_TITLES):
        assert title == description == channel == error == metadata[DROP] == metadata["note"] == expected
    assert {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")} == tables
    assert conn.execute("SELECT count(*) FROM sources").fetchone()[0] == n_sources + len(HOSTILE_TITLES)
    after = snapshot(conn, video_ids)
    lost, duplicated = audit(before, after)
    assert (lost, duplicated) == (0, 0) and after == before

    hostile_ingested = hostile_folder["videos"]
    states = dict(catalog.statuses(conn, [v.video_id for v in hostile_ingested]))
    fault_report.add(
        "hostile input: ids, titles, file names",
        f"{len(HOSTILE_IDS)} ids rejected, {len(HOSTILE_TITLES)} SQL/unicode titles, "
        f"{len(HOSTILE_NAMES)} hostile file names ingested",
        videos_affected=sum(1 for s in states.values() if s != "done"),
        rows_lost=lost, rows_duplicated=duplicated,
        recovered=all(s == "done" for s in states.values()) and lost == duplicated == 0,
    )
