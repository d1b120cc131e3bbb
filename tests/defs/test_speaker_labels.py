"""speaker_labels judges quality per segment: a broken segment is dropped with its reason and the video
stored; a video is refused only past the stated share, with a refusal that says what a person can do."""

import dataclasses

from chaffee_assets.defs.assets import speaker_labels as speaker_labels_module
from chaffee_assets.settings import get_settings
from chaffee_assets.speech.asr.quality import MAX_DROPPED_SHARE
from chaffee_assets.store import db, segments
from tests.conftest import copy_demo
from tests.defs.test_checks import ingest_one


def breaking(how_many: int):
    """An `attribute` whose first how_many segments end before they start (the rest untouched)."""
    real = speaker_labels_module.attribute

    def attribute(*args, **kwargs):
        found = real(*args, **kwargs)
        return [dataclasses.replace(s, start=s.end, end=s.start) if i < how_many else s for i, s in enumerate(found)]

    return attribute


def stored(key):
    with db.session(get_settings()) as conn:
        row = conn.execute("SELECT status, error, metadata->'quality' FROM sources WHERE video_id = %s", (key,)).fetchone()
        return (*row, segments.count(conn, key))


def test_a_broken_segment_is_dropped_with_its_reason_and_the_video_stored(dagster_env, tmp_path, monkeypatch):
    monkeypatch.setattr(speaker_labels_module, "attribute", breaking(1))
    folder = copy_demo(tmp_path, "interview-01.flac")
    (folder / "interview-01.flac").rename(folder / "dropped-copy.flac")
    key, [outcome] = ingest_one(dagster_env, folder)
    state, error, quality, rows = stored(key)
    assert outcome.success and outcome.checks["speaker_labels:segment_quality"] is True
    assert state == "done" and error is None and rows > 0
    [dropped] = quality["dropped_segments"]
    assert "segment 0 [" in dropped["why"] and "start is not before end" in dropped["why"] and dropped["text"]
    assert 0 < quality["dropped_share"] <= MAX_DROPPED_SHARE and quality["flagged"] is None


def test_too_much_dropped_is_refused_and_the_refusal_names_the_way_out(dagster_env, tmp_path, monkeypatch):
    monkeypatch.setattr(speaker_labels_module, "attribute", breaking(3))  # 3 of the monologue's 4 segments
    folder = copy_demo(tmp_path, "monologue-02.flac")  # under its own name: other tests store monologue-02
    (folder / "monologue-02.flac").rename(folder / "refused-copy.flac")
    key, [outcome] = ingest_one(dagster_env, folder)
    state, error, _, rows = stored(key)
    assert state == "failed" and rows == 0
    assert f"speaker_labels refused video {key}" in error and "was dropped" in error
    assert "refused on every re-run" in error and "CHAFFEE_STORE_FLAGGED=1" in error and "--store-flagged" in error

    monkeypatch.setenv("CHAFFEE_STORE_FLAGGED", "1")
    key, [outcome] = ingest_one(dagster_env, folder)
    state, error, quality, rows = stored(key)
    assert state == "done" and rows > 0 and "was dropped" in quality["flagged"]
    assert len(quality["dropped_segments"]) == 3
