"""The daemon's sensors for real: yt-dlp reads an RSS feed served on 127.0.0.1, `new_uploads` makes new
items `videos` partitions and batched `download` runs, `downloaded_audio` requests `process` runs over
what landed, and the two kinds of run take them through all five assets."""

import json
import os
import time

import dagster as dg

from chaffee_assets.definitions import defs
from chaffee_assets.defs.resources import Platform
from chaffee_assets.defs.runner import QUIET, add_partitions
from chaffee_assets.sources.base import Video
from chaffee_assets.defs.sensors import downloaded_audio, new_uploads
from chaffee_assets.sources.rss import rss_id
from chaffee_assets.sources.ytdlp import YtDlp
from chaffee_assets.store import catalog, segments
from tests.sources.conftest import clip, feed
from tests.sources.test_youtube_listing import FULL, SAMPLE, entries

CHAIN = ["raw_audio", "transcripts", "diarization", "speaker_labels", "embeddings"]
RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def tick(instance, cursor, sensor=new_uploads):
    """Evaluate a sensor, then do what the sensor daemon does with its result: add the partitions."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                      resources={"platform": Platform()})
    result = sensor(context)
    for request in result.dynamic_partitions_requests or ():
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def run(instance, tags, job="ingest"):
    return defs.resolve_job_def(job).execute_in_process(instance=instance, tags=tags, run_config=QUIET,
                                                       raise_on_error=False)


def added(result) -> list[str]:
    return [k for r in result.dynamic_partitions_requests or () for k in r.partition_keys]


def ranges(result) -> list[tuple[str, str]]:
    return [(r.tags[RANGE[0]], r.tags[RANGE[1]]) for r in result.run_requests or ()]


def test_sensors_add_new_non_short_items_download_then_process_them(dagster_env, http, restore_env, conn):
    os.environ.update(CHAFFEE_CHANNELS=http.url("/feed.xml"), CHAFFEE_VIDEOS_PER_RUN="2",
                      CHAFFEE_BACKOFF_S="0.05", CHAFFEE_DOWNLOAD_RETRIES="1")
    # Declared durations (itunes:duration) are what the listing filters on; the media served are short
    # excerpts of the demo recordings so the models have little to do.
    item = lambda guid, title, pub, duration=None: {  # noqa: E731
        "guid": guid, "title": title, "url": http.url(f"/media/{guid}.flac"), "duration": duration,
        "pub": f"{pub} 2025 10:00:00 GMT", "description": f"{title}, an episode"}
    talk1 = item("talk-1", "Talk one", "Mon, 06 Oct", "00:42:10")
    short = item("short-1", "A teaser", "Mon, 29 Sep", "0:45")
    talk2 = item("talk-2", "Talk two", "Mon, 27 Oct", "01:05:00")
    broken = item("broken", "Broken link", "Mon, 20 Oct", "00:30:00")  # never served: HTTP 404
    mystery = item("mystery", "No length given", "Mon, 13 Oct")  # no itunes:duration, an 8 s file
    http.add("/media/talk-1.flac", clip("monologue-01.flac", 20.0))
    http.add("/media/talk-2.flac", clip("monologue-02.flac", 20.0))
    http.add("/media/short-1.flac", clip("monologue-02.flac", 8.0))
    http.add("/media/mystery.flac", clip("monologue-02.flac", 8.0, start_s=20.0))
    ids = {guid: rss_id(guid) for guid in ("talk-1", "short-1", "talk-2", "broken", "mystery")}

    http.add("/feed.xml", feed("Chaffee test feed", [talk1, short]), "application/rss+xml")
    first = tick(dagster_env, None)
    assert added(first) == [ids["talk-1"]] and ranges(first) == [(ids["talk-1"], ids["talk-1"])]

    http.add("/feed.xml", feed("Chaffee test feed", [talk2, broken, mystery, talk1, short]), "application/rss+xml")
    second = tick(dagster_env, first.cursor)
    assert added(second) == [ids["talk-2"], ids["broken"], ids["mystery"]]  # only the new, non-short ones
    assert ranges(second) == [(ids["talk-2"], ids["broken"]), (ids["mystery"], ids["mystery"])]  # 2 per run
    assert json.loads(second.cursor)["filtered"][http.url("/feed.xml")] == [ids["short-1"]]

    third = tick(dagster_env, second.cursor)
    assert not added(third) and not third.run_requests and third.skip_reason.skip_message == "no new videos"

    nothing = tick(dagster_env, None, downloaded_audio)
    assert not nothing.run_requests and "no newly downloaded videos" in nothing.skip_reason.skip_message
    for request in [*first.run_requests, *second.run_requests]:  # what the daemon launches: download runs
        result = run(dagster_env, request.tags, new_uploads.job_name)
        assert result.success  # the broken video fails alone, never its run; the short is skipped
    assert catalog.statuses(conn, [ids["talk-1"], ids["talk-2"]]) == {ids["talk-1"]: "downloaded",
                                                                      ids["talk-2"]: "downloaded"}
    landed = tick(dagster_env, None, downloaded_audio)
    assert ranges(landed) == [(ids["talk-1"], ids["talk-2"])]  # neighbours in the partition order: one run
    again = tick(dagster_env, landed.cursor, downloaded_audio)  # requested once, even while still waiting
    assert not again.run_requests and "2 already requested" in again.skip_reason.skip_message
    for request in landed.run_requests:
        assert run(dagster_env, request.tags, downloaded_audio.job_name).success
    assert json.loads(tick(dagster_env, again.cursor, downloaded_audio).cursor) == []  # done: forgotten

    rows = {r[0]: r[1:] for r in conn.execute(
        "SELECT video_id, status, error, title, channel, description, published_at, duration_s, metadata"
        " FROM sources WHERE video_id = ANY(%s)", (list(ids.values()),)).fetchall()}
    assert ids["short-1"] not in rows  # filtered out by the listing: never registered, never downloaded
    for guid in ("talk-1", "talk-2"):
        status, error, title, channel, description, published, seconds, meta = rows[ids[guid]]
        assert status == "done" and error is None and segments.count(conn, ids[guid]) > 0
        assert channel == "Chaffee test feed" and description.endswith("an episode") and published.year == 2025
        assert abs(seconds - 20.0) < 0.1 and meta["download"]["via"] == "yt-dlp" and meta["guid"] == guid
    status, error = rows[ids["broken"]][:2]
    assert status == "failed"
    assert f"raw_audio failed for video {ids['broken']}" in error and "media not found (HTTP 404)" in error
    status, error = rows[ids["mystery"]][:2]
    assert status == "skipped" and "short (8 s < 120 s)" in error  # unknown length, checked after download
    assert segments.count(conn, ids["mystery"]) == 0
    for name in CHAIN:
        done = dagster_env.get_materialized_partitions(dg.AssetKey(name))
        assert {ids["talk-1"], ids["talk-2"]} <= done, name


def test_sensor_ticks_on_the_572_video_channel(dagster_env, monkeypatch, restore_env, conn, capsys):
    """Listing I/O is YouTube's, which cannot be reached here: the recorded listing stands in for it,
    page by page (30 entries per page, as YouTube serves a channel's uploads)."""
    rows = entries(FULL if FULL.exists() else SAMPLE)
    pages: list[int] = []

    def listed(self, url):
        for n, row in enumerate(rows):
            if n % 30 == 0:
                pages.append(n // 30)
            yield row, {"channel": "Anthony Chaffee MD"}

    monkeypatch.setattr(YtDlp, "entries", listed)
    os.environ.update(CHAFFEE_CHANNELS="https://www.youtube.com/@anthonychaffeemd", CHAFFEE_VIDEOS_PER_RUN="8")
    with dg.instance_for_test() as instance:
        figures = {}
        started = time.perf_counter()
        first = tick(instance, None)
        figures["first tick (full listing) s"] = round(time.perf_counter() - started, 3)
        keys = added(first)
        kept = 552 if FULL.exists() else 9
        assert len(keys) == kept and len(first.run_requests) == -(-kept // 8)
        assert len(set(ranges(first))) == len(first.run_requests)
        registered = conn.execute("SELECT count(*) FROM sources WHERE video_id = ANY(%s)", (keys,)).fetchone()[0]
        assert registered == kept

        pages.clear()
        started = time.perf_counter()
        second = tick(instance, first.cursor)
        figures["second tick (nothing new) s"] = round(time.perf_counter() - started, 3)
        assert not added(second) and not second.run_requests and pages == [0]  # one page read, then stop

        ordinary = next(r for r in rows if "_fixture" not in r and r["duration"] >= 120 and not r["availability"])
        rows.insert(0, {**ordinary, "id": "NewUpload01", "title": "A new upload", "duration": 3000.0})
        pages.clear()
        started = time.perf_counter()
        third = tick(instance, second.cursor)
        figures["third tick (one new upload) s"] = round(time.perf_counter() - started, 3)
        assert added(third) == ["NewUpload01"] and ranges(third) == [("NewUpload01", "NewUpload01")]
        assert pages == [0]

        pages.clear()
        started = time.perf_counter()
        fresh = tick(instance, None)  # no cursor, videos already partitions: the whole channel is read once
        figures["tick without cursor (full listing, nothing new) s"] = round(time.perf_counter() - started, 3)
        assert not added(fresh) and pages == list(range(-(-len(rows) // 30)))
        assert json.loads(fresh.cursor)["complete"] == ["https://www.youtube.com/@anthonychaffeemd"]
    conn.execute("DELETE FROM sources WHERE video_id = ANY(%s)", (keys + ["NewUpload01"],))
    conn.commit()
    with capsys.disabled():
        print(f"\nnew_uploads on {len(rows) - 1} listed videos: {figures}")


def test_sensor_without_channels_skips(dagster_env, restore_env):
    os.environ.pop("CHAFFEE_CHANNELS", None)
    result = new_uploads(dg.build_sensor_context(instance=dagster_env, resources={"platform": Platform()}))
    assert "CHAFFEE_CHANNELS" in result.skip_reason.skip_message and not result.run_requests


def test_sensors_are_stopped_by_default_and_split_downloads_from_the_models():
    uploads, landed = defs.get_sensor_def("new_uploads"), defs.get_sensor_def("downloaded_audio")
    assert uploads.default_status == landed.default_status == dg.DefaultSensorStatus.STOPPED
    assert uploads.job_name == "download" and uploads.minimum_interval_seconds >= 60
    assert landed.job_name == "process"
    assert [a.to_user_string() for a in defs.resolve_job_def("download").asset_layer.executable_asset_keys] == ["raw_audio"]


def test_a_run_with_a_video_skipped_at_download_succeeds(dagster_env, http, conn, restore_env):
    """A video whose length was unknown until its file arrived, and is a short: skipped, and its run carries on."""
    os.environ["CHAFFEE_BACKOFF_S"] = "0.05"
    video = Video(rss_id("late-short"), "rss", http.add("/media/late-short.flac", clip("monologue-02.flac", 6.0)))
    catalog.register(conn, [video])
    add_partitions(dagster_env, [video.video_id])
    result = run(dagster_env, {RANGE[0]: video.video_id, RANGE[1]: video.video_id})
    assert catalog.statuses(conn, [video.video_id]) == {video.video_id: "skipped"}
    assert result.success
