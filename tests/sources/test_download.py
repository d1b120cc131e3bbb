"""yt-dlp for real against a local HTTP server: feed listing, 429/5xx backoff, resume, clear errors."""

import dataclasses
import time

import pytest

from chaffee_assets.settings import get_settings
from chaffee_assets.sources import DownloadError, Skipped
from chaffee_assets.sources.base import Video
from chaffee_assets.sources.rss import RssSource, rss_id
from chaffee_assets.sources.ytdlp import Backoff, explain
from tests.sources.conftest import clip, feed

BODY = clip("monologue-01.flac", 6.0)


def source(http, **settings) -> RssSource:
    base = dataclasses.replace(get_settings(), backoff_s=0.2, backoff_max_s=2.0, download_retries=3)
    return RssSource(http.url("/feed.xml"), settings=dataclasses.replace(base, **settings))


def item(http, name: str, path: str | None = None) -> Video:
    return Video(rss_id(name), "rss", http.url(path or f"/media/{name}.flac"), title=name, duration_s=600.0)


def test_feed_items_become_videos_with_stable_ids(http):
    http.add("/feed.xml", feed("Test podcast", [
        {"title": "Long talk", "guid": "talk-1", "url": http.url("/media/talk-1.flac"), "duration": "00:42:10",
         "pub": "Mon, 06 Oct 2025 10:00:00 GMT", "description": "About fat"},
        {"title": "Teaser", "guid": "teaser", "url": http.url("/media/teaser.flac"), "duration": "45"},
        {"title": "No length", "guid": "mystery", "url": http.url("/media/mystery.flac")},
        {"title": "YouTube link", "guid": "yt", "url": "https://www.youtube.com/watch?v=E1Yk-o8xwjw", "duration": "1:00:00"},
    ]), "application/rss+xml")
    found = source(http).scan()
    assert found.listed == 4 and found.rejected == {rss_id("teaser"): "short (45 s < 120 s)"}
    talk, mystery, youtube = found.videos  # dated first (newest first), undated in feed order
    assert talk.video_id == rss_id("talk-1") and talk.video_id.startswith("rss-") and len(talk.video_id) == 16
    assert (talk.title, talk.duration_s, talk.published_at.isoformat()) == ("Long talk", 2530.0, "2025-10-06T10:00:00+00:00")
    assert talk.metadata == {"guid": "talk-1", "feed": http.url("/feed.xml"), "channel": "Test podcast",
                             "description": "About fat"}
    assert mystery.duration_s is None and youtube.video_id == "E1Yk-o8xwjw"
    assert source(http).scan().videos[0].video_id == talk.video_id  # stable across listings


def test_429_twice_then_200_downloads_after_backoff(http, tmp_path):
    http.add("/media/a.flac", BODY, failures=[429, 429])
    started = time.perf_counter()
    path = source(http).download(item(http, "a"), tmp_path / "a")
    waited = time.perf_counter() - started
    assert path.read_bytes() == BODY and path.name == f"{rss_id('a')}.flac"
    assert http.statuses("/media/a.flac")[:3] == [429, 429, 200]
    assert waited >= 0.2 + 0.4  # exponential: 0.2 s, then 0.4 s


def test_5xx_is_retried_and_exhausted_retries_say_so(http, tmp_path):
    http.add("/media/b.flac", BODY, failures=[503, 500])
    assert source(http).download(item(http, "b"), tmp_path / "b").read_bytes() == BODY
    http.add("/media/c.flac", BODY, failures=[429] * 10)
    with pytest.raises(DownloadError) as err:
        source(http, download_retries=2).download(item(http, "c"), tmp_path / "c")
    message = str(err.value)
    assert message.startswith(rss_id("c")) and "rate limited (HTTP 429) after 3 attempts" in message
    assert "a later run retries it" in message and http.statuses("/media/c.flac") == [429] * 3


def test_partial_download_is_resumed_never_ingested(http, tmp_path):
    http.add("/media/d.flac", BODY)
    video = item(http, "d")
    dest = tmp_path / "d"
    dest.mkdir()
    (dest / f"{video.video_id}.flac.part").write_bytes(BODY[: len(BODY) // 2])  # an interrupted attempt
    path = source(http).download(video, dest)
    assert path.read_bytes() == BODY and sorted(p.name for p in dest.iterdir()) == [path.name]
    assert (206, f"bytes={len(BODY) // 2}-") in http.log["/media/d.flac"]  # resumed with a range request


def test_partial_download_is_replaced_when_the_server_cannot_resume(http, tmp_path):
    http.add("/media/e.flac", BODY, ranges=False)
    video = item(http, "e")
    dest = tmp_path / "e"
    dest.mkdir()
    (dest / f"{video.video_id}.flac.part").write_bytes(b"\0" * 1000)
    assert source(http).download(video, dest).read_bytes() == BODY


def test_broken_media_gives_a_clear_error(http, tmp_path):
    with pytest.raises(DownloadError) as err:
        source(http).download(item(http, "gone"), tmp_path / "gone")
    assert f"{rss_id('gone')}: media not found (HTTP 404) at {http.url('/media/gone.flac')}" in str(err.value)
    http.add("/media/page.flac", b"<html><body>Sorry, no podcast here</body></html>", "text/html")
    with pytest.raises(DownloadError) as err:
        source(http).download(item(http, "page"), tmp_path / "page")
    assert "no audio or video found at the URL" in str(err.value)


def test_unknown_duration_is_checked_on_the_downloaded_file(http, tmp_path):
    http.add("/media/f.flac", BODY)
    video = dataclasses.replace(item(http, "f"), duration_s=None)
    with pytest.raises(Skipped, match=r"skipped, short \(6 s < 120 s\)"):
        source(http).download(video, tmp_path / "f")
    assert video.duration_s == pytest.approx(6.0, abs=0.1)
    assert source(http, skip_shorts=False).download(video, tmp_path / "f").read_bytes() == BODY


def test_youtube_refusals_are_explained():
    """YouTube itself cannot be reached from here: these are yt-dlp's own messages for each case."""
    cases = {
        "ERROR: [youtube] abc: Sign in to confirm you’re not a bot. Use --cookies-from-browser": "bot check",
        "ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate": "age-gated",
        "ERROR: [youtube] abc: Private video. Sign in if you've been granted access": "private video",
        "ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader": "removed",
        "ERROR: [youtube] abc: Join this channel to get access to members-only content": "members-only",
    }
    for said, what in cases.items():
        message = str(explain("E1Yk-o8xwjw", "https://www.youtube.com/watch?v=E1Yk-o8xwjw", RuntimeError(said), 1))
        assert message.startswith("E1Yk-o8xwjw: ") and what in message and "a later run retries it" in message
    assert "CHAFFEE_YTDLP_COOKIES" in str(explain("x", "u", RuntimeError(list(cases)[0]), 1))


def test_backoff_honours_retry_after_and_caps():
    slept = []
    calls = iter([RuntimeError("HTTP Error 503: busy"), RuntimeError("HTTP Error 429: slow"), "ok"])

    def flaky():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert Backoff(retries=5, base_s=1.0, max_s=1.5, sleep=slept.append).run("x", flaky) == "ok"
    assert slept == [1.0, 1.5]
    with pytest.raises(RuntimeError, match="404"):
        Backoff(retries=5, sleep=slept.append).run("x", lambda: (_ for _ in ()).throw(RuntimeError("HTTP Error 404")))


class _RateLimited(Exception):
    status = 429

    def __init__(self, retry_after: str) -> None:
        super().__init__("HTTP Error 429: Too Many Requests")
        self.response = type("Response", (), {"headers": {"Retry-After": retry_after}})()


def test_a_429_holds_every_download_from_that_host():
    """Download A gets a 429 (Retry-After 1 s); download B, starting 0.2 s later from the same host, waits
    out the same second before its first request. Another host is not held."""
    from concurrent.futures import ThreadPoolExecutor

    from chaffee_assets.sources.ytdlp import HostGate

    url = f"http://gate-{time.monotonic_ns()}.test/media/a.flac"
    started = time.perf_counter()
    requests: dict[str, list[float]] = {"a": [], "b": [], "other": []}

    def a():
        requests["a"].append(time.perf_counter() - started)
        if len(requests["a"]) == 1:
            raise _RateLimited("1")
        return "a"

    def b():
        requests["b"].append(time.perf_counter() - started)
        return "b"

    def other():
        requests["other"].append(time.perf_counter() - started)
        return "other"

    def later(name, fn, host):
        time.sleep(0.2)
        return Backoff(retries=2, base_s=0.1).run(name, fn, host=host)

    with ThreadPoolExecutor(3) as pool:
        results = [pool.submit(Backoff(retries=2, base_s=0.1).run, "a", a, host=url),
                   pool.submit(later, "b", b, url), pool.submit(later, "other", other, "http://elsewhere.test/x")]
        assert [r.result() for r in results] == ["a", "b", "other"]
    assert requests["a"][1] >= 1.0 and requests["b"][0] >= 0.95  # b waited for a's Retry-After
    assert requests["other"][0] < 0.6
    assert HostGate.of(url).holds == 1
