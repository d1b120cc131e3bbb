"""A source that behaves like the internet, on 127.0.0.1: an RSS feed of a folder of audio files, served
with a per-connection rate cap, latency per request, a slow first byte, and (with faults on) a 429 with
Retry-After and a connection cut mid-body on each file, resumed by Range. The bench and the reliability
tests serve a corpus through it; `python -m chaffee_assets.bench.source_server DIR` serves one by hand.

Faults are scripted per file, so every file meets each of them exactly as configured: its first
`rate_limited` requests are answered 429 (Retry-After `retry_after_s`), then its first `cut` body
transfers stop after `cut_at` of the bytes they owed and drop the connection.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

AUDIO_TYPES = {".flac": "audio/flac", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
               ".opus": "audio/ogg", ".ogg": "audio/ogg"}
CHUNK = 16 * 1024


@dataclass(frozen=True)
class Conditions:
    """How the server behaves.

    Attributes:
        rate_bps: bytes per second per connection (0: as fast as loopback goes).
        latency_s: added before every response (a round trip).
        first_byte_s: added before a media body's first byte (a slow CDN edge).
        rate_limited: per file, how many first requests are answered 429.
        retry_after_s: the Retry-After header of those 429s.
        cut: per file, how many first body transfers are cut mid-body.
        cut_at: the share of the owed bytes a cut transfer sends before dropping the connection.
    """

    rate_bps: float = 0.0
    latency_s: float = 0.0
    first_byte_s: float = 0.0
    rate_limited: int = 0
    retry_after_s: int = 1
    cut: int = 0
    cut_at: float = 0.4

    @classmethod
    def faulty(cls, rate_bps: float = 0.0, **kw) -> Conditions:
        """The --faults set: one 429 (Retry-After 1 s) and one cut connection per file, 0.2 s latency."""
        return cls(rate_bps=rate_bps, latency_s=kw.pop("latency_s", 0.2), first_byte_s=kw.pop("first_byte_s", 0.3),
                   rate_limited=1, retry_after_s=1, cut=1, **kw)


class SourceServer:
    """Serves `files` (name -> path) as /media/<name> and an RSS feed of them at /feed.xml."""

    def __init__(self, files: list[Path], conditions: Conditions = Conditions(), host: str = "127.0.0.1",
                 port: int = 0, durations: dict[str, float] | None = None) -> None:
        self.files = {f.name: f for f in files}
        self.durations = durations or {}
        self.conditions = conditions
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # name -> media requests seen (HEAD and GET)
        self.bodies: Counter[str] = Counter()  # name -> body transfers started
        self.cuts: Counter[str] = Counter()  # name -> transfers cut so far
        self.log: dict[str, list[tuple[int, str | None, int]]] = defaultdict(list)  # name -> (status, Range, bytes)
        self.active = 0  # media bodies being sent right now
        self.peak_active = 0
        self.httpd = _Quiet((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/feed.xml") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self) -> SourceServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def feed(self) -> bytes:
        """RSS 2.0, one item per file in name order (guid = the file's stem, pubDate descending)."""
        start = datetime(2026, 1, 1, tzinfo=UTC)
        items = []
        for i, name in enumerate(sorted(self.files)):
            stem = Path(name).stem
            seconds = self.durations.get(name)
            length = f"<itunes:duration>{round(seconds)}</itunes:duration>" if seconds else ""
            kind = AUDIO_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")
            items.append(f"<item><title>{escape(stem)}</title><guid isPermaLink=\"false\">{escape(stem)}</guid>"
                         f"<pubDate>{format_datetime(start - timedelta(days=i))}</pubDate>{length}"
                         f"<enclosure url=\"{self.url('/media/' + name)}\" type=\"{kind}\" "
                         f"length=\"{self.files[name].stat().st_size}\"/></item>")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
                'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>throttled corpus</title>'
                f"<link>{self.url('/')}</link><description>served by chaffee_assets.bench.source_server</description>"
                + "".join(items) + "</channel></rss>").encode()

    def cuts_left(self, name: str) -> bool:
        """True (and one cut used) while `name` has cut transfers left."""
        with self.lock:
            if self.cuts[name] < self.conditions.cut:
                self.cuts[name] += 1
                return True
            return False

    def figures(self) -> dict:
        """What the clients met: requests, 429s, cut transfers, 206 resumes, peak concurrent bodies."""
        entries = [e for log in self.log.values() for e in log]
        return {"media_requests": sum(self.requests.values()), "answered_429": sum(e[0] == 429 for e in entries),
                "cut_transfers": sum(e[0] == -1 for e in entries), "resumed_206": sum(e[0] == 206 for e in entries),
                "peak_concurrent_bodies": self.peak_active}


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client hanging up (yt-dlp's sniffing GET, a cut it provoked) is not the server's error."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler(server: SourceServer):
    c = server.conditions

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, head: bool) -> None:
            if c.latency_s:
                time.sleep(c.latency_s)
            path = self.path.split("?")[0]
            if path in ("/feed.xml", "/feed"):
                return self._plain(200, server.feed(), "application/rss+xml", head)
            name = path.removeprefix("/media/")
            if not path.startswith("/media/") or name not in server.files:
                return self._plain(404, b"not found", "text/plain", head)
            with server.lock:
                server.requests[name] += 1
                limited = server.requests[name] <= c.rate_limited
            if limited:
                server.log[name].append((429, self.headers.get("Range"), 0))
                return self._plain(429, b"slow down", "text/plain", head, {"Retry-After": str(c.retry_after_s)})
            self._media(name, head)

        def _media(self, name: str, head: bool) -> None:
            size = server.files[name].stat().st_size
            wanted, start, status, extra = self.headers.get("Range"), 0, 200, {}
            if wanted and wanted.startswith("bytes="):
                start = int(wanted[6:].split("-")[0] or 0)
                if start >= size:
                    server.log[name].append((416, wanted, 0))
                    return self._plain(416, b"", "text/plain", head, {"Content-Range": f"bytes */{size}"})
                status, extra = 206, {"Content-Range": f"bytes {start}-{size - 1}/{size}"}
            owed = size - start
            self.send_response(status)
            self.send_header("Content-Type", AUDIO_TYPES.get(Path(name).suffix.lower(), "application/octet-stream"))
            self.send_header("Content-Length", str(owed))
            self.send_header("Accept-Ranges", "bytes")
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            if head:
                server.log[name].append((status, wanted, 0))
                return
            with server.lock:
                server.bodies[name] += 1
                server.active += 1
                server.peak_active = max(server.peak_active, server.active)
            try:
                sent, cut = self._body(name, start, owed)
            finally:
                with server.lock:
                    server.active -= 1
            server.log[name].append((-1 if cut else status, wanted, sent))
            if cut:
                self.close_connection = True

        def _body(self, name: str, start: int, owed: int) -> tuple[int, bool]:
            """Send the owed bytes from `start` at no more than rate_bps. While the file has cuts left, the
            first transfer to reach cut_at of its bytes stops there (a client that hangs up sooner, such as
            a sniffing extractor, does not use the cut up). Returns (bytes sent, cut)."""
            if c.first_byte_s:
                time.sleep(c.first_byte_s)
            began, sent, stop_at = time.perf_counter(), 0, int(owed * c.cut_at)
            try:
                with server.files[name].open("rb") as f:
                    f.seek(start)
                    while sent < owed:
                        if sent >= stop_at and server.cuts_left(name):
                            return sent, True
                        block = f.read(min(CHUNK, owed - sent, max(stop_at - sent, 1) if sent < stop_at else CHUNK))
                        if not block:
                            break
                        self.wfile.write(block)
                        sent += len(block)
                        if c.rate_bps:
                            ahead = sent / c.rate_bps - (time.perf_counter() - began)
                            if ahead > 0:
                                time.sleep(ahead)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            return sent, False

        def _plain(self, status: int, body: bytes, kind: str, head: bool, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)

    return Handler


def serve_corpus(folder: Path, conditions: Conditions, port: int = 0) -> SourceServer:
    """A server (not started) for every audio file of folder (or folder/audio), with their durations."""
    from chaffee_assets.speech import audio

    folder = folder / "audio" if (folder / "audio").is_dir() else folder
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_TYPES)
    return SourceServer(files, conditions, port=port, durations={f.name: audio.duration(f) for f in files})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rate", type=float, default=0.0, help="bytes/s per connection (0: unlimited)")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--faults", action="store_true", help="one 429 and one cut connection per file")
    args = parser.parse_args(argv)
    conditions = Conditions.faulty(args.rate, latency_s=args.latency) if args.faults else \
        Conditions(rate_bps=args.rate, latency_s=args.latency)
    with serve_corpus(args.folder, conditions, args.port) as server:
        print(f"feed: {server.url()}", flush=True)
        try:
            server.thread.join()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
