"""Asset checks run inside the ingest job: quality blocks downstream, throughput warns."""

import dataclasses

import pytest

from chaffee_assets.definitions import defs
from chaffee_assets.defs.assets import speaker_labels as speaker_labels_module
from chaffee_assets.defs.runner import add_partitions, materialize
from chaffee_assets.settings import get_settings
from chaffee_assets.sources.local import LocalSource
from chaffee_assets.speech.asr.quality import Judged, segment_problems, vector_problems
from chaffee_assets.speech.records import Segment
from chaffee_assets.store import catalog, db, segments
from tests.conftest import copy_demo


def ingest_one(instance, folder) -> tuple[str, list]:
    videos = LocalSource(folder).list()
    with db.session(get_settings()) as conn:
        catalog.register(conn, videos)
    key = videos[0].video_id
    add_partitions(instance, [key])
    return key, materialize(defs, instance, [key], batch_size=1)


def test_checks_pass_on_a_good_video(dagster_env, tmp_path, monkeypatch):
    monkeypatch.setenv("CHAFFEE_MIN_X_REALTIME", "0")  # wall time is the machine's, not the video's: see below
    key, [outcome] = ingest_one(dagster_env, copy_demo(tmp_path, "monologue-02.flac"))
    assert outcome.success
    assert outcome.checks == {"speaker_labels:segment_quality": True, "embeddings:stored_segments": True,
                              "embeddings:throughput": True}


def test_a_video_with_broken_segments_fails_alone_and_the_check_names_it(dagster_env, tmp_path, monkeypatch):
    real = speaker_labels_module.attribute

    def corrupt(*args, **kwargs):
        good = real(*args, **kwargs)
        # a segment that ends before it starts, and one with no text
        return [dataclasses.replace(good[0], start=good[0].end, end=good[0].start), *good[1:],
                dataclasses.replace(good[-1], text=" ")]

    monkeypatch.setattr(speaker_labels_module, "attribute", corrupt)
    # past the per-segment judgement (which would drop both: tests/defs/test_speaker_labels.py), so the
    # check's own net is what meets them
    monkeypatch.setattr(speaker_labels_module, "judge", lambda found, duration_s: Judged(found))
    folder = copy_demo(tmp_path, "monologue-02.flac")
    (folder / "monologue-02.flac").rename(folder / "corrupted-copy.flac")
    key, [outcome] = ingest_one(dagster_env, folder)
    assert outcome.success  # the check judged the video, not the step: the run goes on
    assert outcome.checks["speaker_labels:segment_quality"] is False
    assert "embeddings" in outcome.materialized
    with db.session(get_settings()) as conn:
        assert segments.count(conn, key) == 0
        state, error = conn.execute("SELECT status, error FROM sources WHERE video_id = %s", (key,)).fetchone()
    assert state == "failed"
    assert "segment_quality" in error and key in error and "segment 0 [" in error and "start is not before end" in error
    assert outcome.failed_videos == {"speaker_labels:segment_quality": key}


def test_quality_rules():
    ok = [Segment(0, 1, "a", 0, 0, 1, speaker="host"), Segment(1.1, 2, "b", 0, 0, 1, speaker="GUEST")]
    assert segment_problems(ok, 2.0) == []
    bad = [Segment(0, 1, "a", 0, 0, 1, speaker="host"), Segment(0.5, 70, "b", 0, 0, 1, speaker=None)]
    found = " | ".join(segment_problems(bad, 10.0))
    for words in ["overlaps", "outside the audio", "longer than", "no speaker"]:
        assert words in found
    import numpy as np

    assert vector_problems(np.ones((2, 3), np.float32), 384) == ["embedding dimension 3 != 384"]
    assert "unit length" in vector_problems(np.full((1, 384), 0.1, np.float32), 384)[0]
    assert vector_problems(np.eye(384, dtype=np.float32)[:2], 384) == []


@pytest.mark.parametrize("floor,passed", [(0.0, True), (1e9, False)])
def test_throughput_check_warns_below_floor(dagster_env, tmp_path, monkeypatch, floor, passed):
    monkeypatch.setenv("CHAFFEE_MIN_X_REALTIME", str(floor))
    folder = copy_demo(tmp_path, "monologue-01.flac")
    _, [outcome] = ingest_one(dagster_env, folder)
    assert outcome.success  # a WARN check never fails the run
    assert outcome.checks["embeddings:throughput"] is passed
