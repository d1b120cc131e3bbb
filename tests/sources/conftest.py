"""A real HTTP server on 127.0.0.1 for yt-dlp to talk to (feeds, media, scripted 429s and 5xx, ranges),
and short clips of the demo corpus to serve."""

from __future__ import annotations

import io
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import soundfile as sf

from tests.conftest import DEMO_AUDIO


@dataclass
class Route:
    body: bytes
    content_type: str
    status: int = 200
    ranges: bool = True  # honour Range requests (resumable downloads)
    failures: list[int] = field(default_factory=list)  # statuses answered before the body, in order
    # Until this event is set, half the body is sent and the response then hangs (a download in flight).
    hold: threading.Event | None = None


class MediaServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: dict[str, list[tuple[int, str | None]]] = defaultdict(list)  # path -> [(status, Range)]
        self.holding = threading.Event()  # set once a held response has sent its first half
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_HEAD(self) -> None:
                self._answer(head=True)

            def do_GET(self) -> None:
                self._answer(head=False)

            def _answer(self, head: bool) -> None:
                route = server.routes.get(self.path.split("?")[0])
                wanted = self.headers.get("Range")
                if route is None:
                    return self._send(404, b"not found", "text/plain", head, wanted)
                if route.failures:
                    status = route.failures.pop(0)
                    return self._send(status, b"slow down" if status == 429 else b"oops", "text/plain", head, wanted)
                body, status, extra = route.body, route.status, {}
                if wanted and route.ranges and wanted.startswith("bytes="):
                    start = int(wanted[6:].split("-")[0] or 0)
                    if start >= len(body):
                        return self._send(416, b"", route.content_type, head, wanted,
                                          {"Content-Range": f"bytes */{len(body)}"})
                    extra = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
                    body, status = body[start:], 206
                if route.hold is not None and not route.hold.is_set() and not head:
                    return self._hold(route, status, body)
                self._send(status, body, route.content_type, head, wanted, {"Accept-Ranges": "bytes"} | extra
                           if route.ranges else {})

            def _hold(self, route, status, body) -> None:
                server.log[self.path.split("?")[0]].append((status, "held"))
                self.send_response(status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                server.holding.set()
                route.hold.wait(120)
                self.close_connection = True

            def _send(self, status, body, content_type, head, wanted, headers=None) -> None:
                server.log[self.path.split("?")[0]].append((status, wanted))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def add(self, path: str, body: bytes, content_type: str = "audio/flac", **kw) -> str:
        self.routes[path] = Route(body, content_type, **kw)
        return self.url(path)

    def statuses(self, path: str) -> list[int]:
        return [status for status, _ in self.log[path]]


@pytest.fixture()
def http():
    server = MediaServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join(timeout=5)


def clip(name: str, seconds: float, start_s: float = 0.0) -> bytes:
    """`seconds` of a demo recording as FLAC bytes (real speech, kept short for model time)."""
    samples, rate = sf.read(DEMO_AUDIO / name, dtype="float32")
    out = io.BytesIO()
    sf.write(out, samples[int(start_s * rate): int((start_s + seconds) * rate)], rate, format="FLAC")
    return out.getvalue()


def feed(title: str, items: list[dict]) -> bytes:
    """An RSS 2.0 podcast feed; each item: title, guid, url, optional duration (itunes) and pub (RFC 822)."""
    rows = []
    for it in items:
        extra = f"<itunes:duration>{it['duration']}</itunes:duration>" if it.get("duration") else ""
        extra += f"<pubDate>{it['pub']}</pubDate>" if it.get("pub") else ""
        extra += f"<description>{it['description']}</description>" if it.get("description") else ""
        rows.append(f"<item><title>{it['title']}</title><guid isPermaLink=\"false\">{it['guid']}</guid>{extra}"
                    f"<enclosure url=\"{it['url']}\" type=\"audio/flac\" length=\"0\"/></item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
        f"<title>{title}</title><link>http://127.0.0.1/</link><description>test feed</description>"
        + "".join(rows) + "</channel></rss>"
    ).encode()
