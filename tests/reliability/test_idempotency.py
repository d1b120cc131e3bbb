"""Materializing a partition twice, or a range overlapping an earlier one, stores each segment once; a
changed transcript replaces a video's rows in one step (a reader never sees a mix or an empty video)."""

from __future__ import annotations

import dataclasses
import threading

import dagster as dg
import pytest

from chaffee_assets.definitions import defs
from chaffee_assets.defs.runner import add_partitions, materialize
from chaffee_assets.settings import get_settings
from chaffee_assets.sources.local import LocalSource
from chaffee_assets.speech.text.chunks import chunk
from chaffee_assets.store import catalog, db
from chaffee_assets.store.files import Files
from tests.reliability.conftest import audit, crop, snapshot


@pytest.fixture(scope="module")
def videos(dagster_env, clips, tmp_path_factory):
    folder = tmp_path_factory.mktemp("idem")
    for name in ("mono.flac", "talk.flac"):
        (folder / name).write_bytes((clips / name).read_bytes())
    crop("monologue-02.flac", 20, folder / "mono2.flac")
    listed = {v.title: v for v in LocalSource(folder).list()}
    with db.session(get_settings()) as conn:
        catalog.register(conn, list(listed.values()))
    ids = {title: v.video_id for title, v in listed.items()}
    add_partitions(dagster_env, [ids["mono"], ids["talk"], ids["mono2"]])
    return ids


def ingest(instance, keys: list[str]) -> None:
    outcomes = materialize(defs, instance, keys, batch_size=8)
    assert outcomes and all(o.success for o in outcomes)


def test_twice_and_overlapping_ranges_store_each_segment_once(dagster_env, videos, fault_report):
    ids = list(videos.values())
    ingest(dagster_env, [videos["mono"], videos["talk"]])
    with db.session(get_settings()) as conn:
        first = snapshot(conn, ids)
    ingest(dagster_env, [videos["mono"], videos["talk"]])  # the same range again
    ingest(dagster_env, [videos["talk"], videos["mono2"]])  # a range overlapping the first
    with db.session(get_settings()) as conn:
        after = snapshot(conn, ids)
        texts = conn.execute(
            "SELECT count(*) - count(DISTINCT (source_id, text, start_s)) FROM segments g"
            " JOIN sources s ON s.id = g.source_id WHERE s.video_id = ANY(%s)", (ids,)).fetchone()[0]
    lost, duplicated = audit(first, after)
    assert (lost, duplicated, texts) == (0, 0, 0)
    assert [r for r in after if r[0] != videos["mono2"]] == first  # re-runs reproduced the same rows
    assert {r[0] for r in after} == set(ids)
    fault_report.add("same partitions materialized twice + overlapping range", "3 runs over 3 videos",
                     videos_affected=3, rows_lost=lost, rows_duplicated=duplicated, recovered=True)


def test_changed_transcript_replaces_rows_atomically(dagster_env, videos, fault_report):
    key = videos["talk"]
    settings = get_settings()
    files = Files(settings)
    ingest(dagster_env, [key])
    with db.session(settings) as conn:
        before = snapshot(conn, [key])
    # an edited transcript upstream: the last segment gone, the first one's words corrected
    labels = files.read_labels(key)
    edited = labels[:-1]
    edited[0] = dataclasses.replace(edited[0], text="Edited opening sentence about ketones.")
    files.write_labels(key, edited)
    expected = [c.text for c in chunk(files.read_labels(key))]
    old = [r[4] for r in before]
    assert expected != old
    seen: set[tuple[str, ...]] = set()
    stop = threading.Event()

    def reader():
        with db.session(settings) as conn:
            while not stop.is_set():
                seen.add(tuple(t for (t,) in conn.execute(
                    "SELECT g.text FROM segments g JOIN sources s ON s.id = g.source_id"
                    " WHERE s.video_id = %s ORDER BY g.start_s", (key,))))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        job = defs.resolve_job_def("ingest")
        result = job.execute_in_process(instance=dagster_env, partition_key=key, raise_on_error=False,
                                        asset_selection=[dg.AssetKey("embeddings")])
    finally:
        stop.set()
        thread.join()
    assert result.success
    with db.session(settings) as conn:
        after = snapshot(conn, [key])
    assert [r[4] for r in after] == expected  # the new version, whole, and nothing of the old one
    assert seen <= {tuple(old), tuple(expected)} and tuple(old) in seen, len(seen)  # never a mix, never empty
    lost = sum(1 for t in expected if t not in {r[4] for r in after})
    duplicated = audit(after, after)[1]
    assert (lost, duplicated) == (0, 0)
    fault_report.add("changed transcript re-materialized", "embeddings re-run on edited labels",
                     videos_affected=1, rows_lost=lost, rows_duplicated=duplicated, recovered=True)
