"""The YouTube listing parser and filters on recorded yt-dlp --flat-playlist JSON (no network)."""

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from chaffee_assets.settings import REPO_ROOT, Settings
from chaffee_assets.sources import source_for_url
from chaffee_assets.sources.filters import Filters, check_youtube_id, scan
from chaffee_assets.sources.rss import RssSource
from chaffee_assets.sources.youtube import YouTubeSource
from chaffee_assets.store.files import InvalidVideoId
from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "youtube" / "flat_playlist_sample.jsonl"
FULL = REPO_ROOT.parent / "shared" / "data" / "youtube_flat_playlist_anthonychaffeemd.jsonl"  # beside the repo
CHANNEL = "https://www.youtube.com/@anthonychaffeemd"


def entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def listing(path: Path = SAMPLE, filters: Filters = Filters(), **kw):
    source = YouTubeSource(CHANNEL, filters=filters, settings=Settings())
    return scan(entries(path), lambda e: source.to_video(e, {}), filters, **kw)


def test_sample_through_the_default_filters():
    found = listing()
    assert found.listed == 20
    assert [v.video_id for v in found.videos] == [
        "E1Yk-o8xwjw", "3GlEPRo5yjY", "vKiUYeKpHDs", "dtmwfWvQeY8", "mz5_HdJk2Ek", "TvcA6WG2q1o",
        "_TkVLsaK8_U", "_rDnVdXKjao", "NoDuratn005",
    ]  # listing order (newest first) kept; ids starting with '_' are valid YouTube ids
    reasons = {k: v.split(" ")[0] for k, v in found.rejected.items()}
    assert reasons == {
        "LiveNow0001": "live", "Upcoming002": "live",
        "-pYI_37Xli4": "members-only", "NZ6947ZwhYk": "members-only", "Members0003": "members-only",
        "CmOGzfKwl_0": "short", "7mkzkttjzV8": "short", "TgPnmXs2ue4": "short", "ShortUrl004": "short",
    }
    assert found.rejected["CmOGzfKwl_0"] == "short (76 s < 120 s)"
    assert found.rejected["ShortUrl004"] == "short (/shorts/ URL)"
    assert len(found.invalid) == 2 and all("invalid YouTube video id" in m for m in found.invalid)


def test_listing_fields_become_the_video_and_its_metadata():
    videos = {v.video_id: v for v in listing().videos}
    first = videos["E1Yk-o8xwjw"]
    assert first.source_type == "youtube" and first.url == "https://www.youtube.com/watch?v=E1Yk-o8xwjw"
    assert first.title.startswith("My Role in Healing Humanity") and first.duration_s == 6775.0
    assert first.metadata["view_count"] == 5897 and first.metadata["description"].startswith("Join us")
    assert first.metadata["channel"] == "Anthony Chaffee MD and HomeSteadHow"
    assert videos["3GlEPRo5yjY"].metadata["channel"] == "Anthony Chaffee MD"  # from playlist_channel
    assert videos["NoDuratn005"].duration_s is None  # unknown: kept, checked after download


def test_each_filter_can_be_switched_off():
    kept = lambda **kw: {v.video_id for v in listing(filters=Filters(**kw)).videos}  # noqa: E731
    default = kept()
    assert kept(skip_shorts=False) - default == {"CmOGzfKwl_0", "7mkzkttjzV8", "TgPnmXs2ue4", "ShortUrl004"}
    assert kept(skip_live=False) - default == {"LiveNow0001", "Upcoming002"}
    assert kept(skip_members=False) - default == {"-pYI_37Xli4", "NZ6947ZwhYk", "Members0003"}
    assert kept(short_max_s=500) == default - {"dtmwfWvQeY8", "TvcA6WG2q1o"}  # 491 s and 449 s
    assert [v.video_id for v in listing(filters=Filters(limit=3)).videos] == ["E1Yk-o8xwjw", "3GlEPRo5yjY", "vKiUYeKpHDs"]
    assert [v.video_id for v in listing(filters=Filters(limit=2, newest_first=False)).videos] == [
        "NoDuratn005", "_rDnVdXKjao"]


def test_since_and_newest_first_use_dates_when_known():
    rows = entries(SAMPLE)[2:8]
    for i, row in enumerate(rows):  # the flat listing has no dates; give these some
        row["timestamp"] = (datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(days=7 * i)).timestamp()
    source = YouTubeSource(CHANNEL, settings=Settings())
    since = Filters(since=date(2025, 1, 20), skip_shorts=False, skip_members=False)
    found = scan(rows, lambda e: source.to_video(e, {}), since)
    assert [v.published_at.date().isoformat() for v in found.videos] == ["2025-02-05", "2025-01-29", "2025-01-22"]
    assert all(why.startswith("published 2025-01-") for why in found.rejected.values())
    undated = scan(entries(SAMPLE)[2:8], lambda e: source.to_video(e, {}), since)
    assert len(undated.videos) == 6  # no date: kept (download checks the real date)


def test_full_channel_listing(tmp_path):
    """The real 572-video listing: minus 16 shorts and 4 subscriber-only, nothing malformed."""
    if not FULL.exists():
        pytest.skip(f"{FULL} not present")
    found = listing(FULL)
    assert found.listed == 572 and not found.invalid
    reasons = [why.split(" ")[0] for why in found.rejected.values()]
    assert reasons.count("short") == 16 and reasons.count("members-only") == 4
    assert len(found.videos) == 572 - 16 - 4 == 552
    assert sum(v.video_id[0] in "-_" for v in found.videos) == 19  # 20 such ids, one is subscriber-only
    hours = sum(v.duration_s for v in found.videos) / 3600
    assert 500 < hours < 520


def test_scan_stops_after_a_run_of_known_ids():
    rows = entries(FULL if FULL.exists() else SAMPLE)
    known = {r["id"] for r in rows[3:]}
    found = listing(FULL if FULL.exists() else SAMPLE, known=known, stop_after_known=5)
    assert not found.complete and found.listed <= 3 + 5 + 1
    assert {v.video_id for v in found.videos} <= {r["id"] for r in rows[:3]}


def test_youtube_ids_are_validated():
    for good in ["E1Yk-o8xwjw", "-pYI_37Xli4", "_TkVLsaK8_U"]:
        assert check_youtube_id(good) == good
    for bad in ["E1Yk-o8xwj", "E1Yk-o8xwjww", "../../etc/p", "E1Yk o8xwjw", "ÉÉÉÉÉÉÉÉÉÉÉ", None, 12345678901]:
        with pytest.raises(InvalidVideoId):
            check_youtube_id(bad)


def test_urls_pick_the_source_and_channel_roots_list_uploads_only():
    settings = Settings()
    root = source_for_url("https://www.youtube.com/@anthonychaffeemd", settings=settings)
    assert isinstance(root, YouTubeSource) and root.url == "https://www.youtube.com/@anthonychaffeemd/videos"
    assert root.incremental
    playlist = source_for_url("https://www.youtube.com/playlist?list=PLabc", settings=settings)
    assert playlist.url.endswith("list=PLabc") and not playlist.incremental  # a playlist's order is its owner's
    assert isinstance(source_for_url("https://example.org/podcast.xml", settings=settings), RssSource)
