"""The internet-like source on 127.0.0.1: rate cap per connection, latency, 429 with Retry-After, a cut
connection resumed by Range; and yt-dlp through all of it, byte for byte."""

from __future__ import annotations

import dataclasses
import http.client
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from chaffee_assets.bench.source_server import Conditions, SourceServer
from chaffee_assets.settings import get_settings
from chaffee_assets.sources.rss import RssSource
from chaffee_assets.sources.ytdlp import HostGate


@pytest.fixture()
def media(tmp_path):
    """Four 'audio' files of 200 kB (bytes a FLAC decoder would refuse, which the server does not care about)."""
    paths = []
    for i in range(4):
        path = tmp_path / f"ep-{i}.flac"
        path.write_bytes(bytes(range(256)) * 800 + bytes([i]) * 4800)
        paths.append(path)
    return paths


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_rate_cap_is_per_connection(media):
    with SourceServer(media, Conditions(rate_bps=400_000)) as server:
        clock = time.perf_counter()
        status, _, body = get(server.url("/media/ep-0.flac"))
        one = time.perf_counter() - clock
        assert status == 200 and body == media[0].read_bytes()
        assert 0.45 <= one < 1.5  # 205 kB at 400 kB/s
        clock = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            bodies = list(pool.map(lambda p: get(server.url(f"/media/{p.name}"))[2], media))
        four = time.perf_counter() - clock
    assert bodies == [p.read_bytes() for p in media]
    assert four < 2 * one  # four connections at once take about as long as one: the cap is per connection
    assert server.peak_active >= 4


def test_latency_and_slow_first_byte(media):
    with SourceServer(media, Conditions(latency_s=0.3, first_byte_s=0.2)) as server:
        clock = time.perf_counter()
        assert get(server.url("/feed.xml"))[0] == 200
        assert time.perf_counter() - clock >= 0.3
        clock = time.perf_counter()
        assert get(server.url("/media/ep-1.flac"))[0] == 200
        assert time.perf_counter() - clock >= 0.5


def test_429_with_retry_after_then_the_file(media):
    with SourceServer(media, Conditions(rate_limited=2, retry_after_s=7)) as server:
        first, second, third = (get(server.url("/media/ep-2.flac")) for _ in range(3))
    assert first[0] == second[0] == 429 and first[1]["Retry-After"] == "7"
    assert third[0] == 200 and third[2] == media[2].read_bytes()
    assert server.figures()["answered_429"] == 2


def test_cut_mid_body_then_resumed_by_range(media):
    size = media[3].stat().st_size
    with SourceServer(media, Conditions(cut=1, cut_at=0.4)) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.httpd.server_address[1], timeout=30)
        conn.request("GET", "/media/ep-3.flac")
        response = conn.getresponse()
        assert response.status == 200 and int(response.headers["Content-Length"]) == size
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()
        got = cut.value.partial
        assert 0 < len(got) < size
        status, headers, rest = get(server.url("/media/ep-3.flac"), {"Range": f"bytes={len(got)}-"})
    assert status == 206 and headers["Content-Range"] == f"bytes {len(got)}-{size - 1}/{size}"
    assert got + rest == media[3].read_bytes()
    assert server.figures()["cut_transfers"] == 1 and server.figures()["resumed_206"] == 1


def test_ytdlp_through_every_fault_gets_every_byte(media, tmp_path):
    settings = dataclasses.replace(get_settings(), backoff_s=0.1, backoff_max_s=2.0, download_retries=4,
                                   skip_shorts=False)
    with SourceServer(media[:2], Conditions.faulty(rate_bps=2_000_000, latency_s=0.05, first_byte_s=0.05)) as server:
        source = RssSource(server.url(), settings=settings)
        videos = source.list()
        assert [v.title for v in videos] == ["ep-0", "ep-1"]
        for video, path in zip(videos, media[:2], strict=True):
            assert source.download(video, tmp_path / video.video_id).read_bytes() == path.read_bytes()
    figures = server.figures()
    assert figures["answered_429"] == 2 and figures["cut_transfers"] == 2 and figures["resumed_206"] == 2
    assert HostGate.of(server.url()).holds == 2  # each 429 held the host

