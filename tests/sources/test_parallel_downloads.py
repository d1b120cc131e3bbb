"""raw_audio downloads CHAFFEE_DOWNLOAD_WORKERS videos at once, for real: yt-dlp against the throttled
source server on 127.0.0.1, materialized by the `download` job. Four throttled downloads take about as
long as one; with 429s and cut connections on every file each video is stored exactly once; a broken
link fails only its own video."""

from __future__ import annotations

import io
import os

import pytest
import soundfile as sf

from chaffee_assets.bench.source_server import Conditions, SourceServer
from chaffee_assets.definitions import defs
from chaffee_assets.defs.runner import QUIET, _run_tags, add_partitions
from chaffee_assets.settings import get_settings
from chaffee_assets.sources.base import Video
from chaffee_assets.sources.rss import RssSource, rss_id
from chaffee_assets.speech import audio
from chaffee_assets.store import catalog
from chaffee_assets.store.files import Files
from tests.sources.conftest import clip

SECONDS = 4.0  # audio per file; the rate is set so one file takes ~1 s to transfer


@pytest.fixture()
def episodes(tmp_path):
    paths = []
    for i, start in enumerate((0.0, 5.0, 10.0, 15.0)):
        path = tmp_path / f"{tmp_path.name[:20]}-ep{i}.flac"  # unique names: one database for the session
        path.write_bytes(clip("monologue-01.flac", SECONDS, start_s=start))
        paths.append(path)
    return paths


def listed(server: SourceServer, conn, instance) -> list[Video]:
    videos = RssSource(server.url(), settings=get_settings()).list()
    catalog.register(conn, videos)
    add_partitions(instance, [v.video_id for v in videos])
    return videos


def download(instance, keys: list[str]):
    result = defs.resolve_job_def("download").execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False, tags=_run_tags(keys))
    event = result.get_asset_materialization_events()[0]
    return result, event.step_materialization_data.materialization.metadata


@pytest.fixture()
def settings_env(restore_env):
    os.environ.update(CHAFFEE_SKIP_SHORTS="0", CHAFFEE_BACKOFF_S="0.1", CHAFFEE_DOWNLOAD_RETRIES="4")


def test_four_throttled_downloads_take_about_as_long_as_one(dagster_env, conn, episodes, settings_env):
    rate = max(p.stat().st_size for p in episodes) / 1.0  # ~1 s per file per connection
    with SourceServer(episodes, Conditions(rate_bps=rate, latency_s=0.05)) as server:
        videos = listed(server, conn, dagster_env)
        os.environ["CHAFFEE_DOWNLOAD_WORKERS"] = "1"
        _, alone = download(dagster_env, [videos[0].video_id])
        os.environ["CHAFFEE_DOWNLOAD_WORKERS"] = "4"
        result, together = download(dagster_env, [v.video_id for v in videos[1:]])
    assert result.success
    assert alone["videos"].value == 1 and together["videos"].value == 3
    assert together["download_concurrency_peak"].value == 3
    # three at once: well under three times one (each transfer alone takes >= 1 s at this rate)
    assert together["wall_s"].value < 2.0 * alone["wall_s"].value, (alone["wall_s"], together["wall_s"])
    assert server.peak_active >= 3
    print(f"one alone {alone['wall_s'].value:.2f} s, three at once {together['wall_s'].value:.2f} s")


def test_faults_store_every_video_once_and_a_broken_link_fails_only_its_own(dagster_env, conn, episodes,
                                                                          settings_env):
    os.environ["CHAFFEE_DOWNLOAD_WORKERS"] = "4"
    with SourceServer(episodes, Conditions.faulty(rate_bps=2_000_000, latency_s=0.02, first_byte_s=0.02)) as server:
        videos = listed(server, conn, dagster_env)
        broken = Video(rss_id(str(episodes[0])), "rss", server.url("/media/gone.flac"), title="gone",
                       duration_s=600.0)
        catalog.register(conn, [broken])
        add_partitions(dagster_env, [broken.video_id])
        result, meta = download(dagster_env, [v.video_id for v in videos] + [broken.video_id])
    assert result.success  # one bad link does not fail the run
    figures = server.figures()
    assert figures["answered_429"] == 4 and figures["cut_transfers"] == 4 and figures["resumed_206"] >= 4
    assert meta["videos"].value == 4 and meta["failed"].value == 1 and meta["host_holds_429"].value >= 4
    status = catalog.statuses(conn, [v.video_id for v in videos] + [broken.video_id])
    assert [status[v.video_id] for v in videos] == ["downloaded"] * 4 and status[broken.video_id] == "failed"
    files = Files(get_settings())
    for video, source in zip(videos, episodes, strict=True):
        stored, _ = sf.read(files.audio(video.video_id), dtype="int16")
        served, _ = sf.read(io.BytesIO(source.read_bytes()), dtype="int16")
        assert (stored == served).all()  # every byte arrived: the decoded audio is identical
        assert audio.duration(files.audio(video.video_id)) == pytest.approx(SECONDS, abs=0.01)
    rows = conn.execute("SELECT video_id, count(*) FROM sources WHERE video_id = ANY(%s) GROUP BY 1",
                        ([v.video_id for v in videos],)).fetchall()
    assert sorted(n for _, n in rows) == [1, 1, 1, 1]  # one row per video
    assert not any((get_settings().downloads_dir / v.video_id).exists() for v in videos)  # media deleted
