"""yt-dlp through its Python API (never a shell string): lazy listings, one resumable bestaudio download
per video, exponential backoff on 429/5xx, and errors that say what happened and what to do."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar
from urllib.parse import urlsplit

from chaffee_assets.settings import Settings, get_settings
from chaffee_assets.sources.base import DownloadError, Skipped, Video
from chaffee_assets.sources.filters import Filters, Listing, scan, timestamp

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Logger:
    """yt-dlp's messages into Python logging instead of stdout/stderr."""

    def debug(self, msg: str) -> None:
        log.debug(msg)

    def info(self, msg: str) -> None:
        log.debug(msg)

    def warning(self, msg: str) -> None:
        (log.debug if "Falling back on generic" in msg else log.warning)(msg)

    def error(self, msg: str) -> None:
        log.debug(msg)  # the same error reaches the caller as an exception, explained there


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what yt-dlp wrapped in it (exc_info, cause) and Python's own chain."""
    seen, todo = set(), [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        exc_info = getattr(e, "exc_info", None)
        if isinstance(exc_info, tuple) and len(exc_info) > 1 and isinstance(exc_info[1], BaseException):
            todo.append(exc_info[1])
        for attr in ("cause", "__cause__", "__context__"):
            nxt = getattr(e, attr, None)
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def http_status(exc: BaseException) -> int | None:
    for e in _chain(exc):
        status = getattr(e, "status", None)
        if isinstance(status, int) and 100 <= status < 600:
            return status
    found = re.search(r"HTTP Error (\d{3})", str(exc))
    return int(found.group(1)) if found else None


def _retry_after(exc: BaseException) -> float | None:
    for e in _chain(exc):
        headers = getattr(getattr(e, "response", None), "headers", None)
        value = headers.get("Retry-After") if headers is not None else None
        if value and str(value).strip().isdigit():
            return float(value)
    return None


def _transient(exc: BaseException) -> bool:
    """Worth another try: rate limited (429), a server error (5xx), or the connection itself failed or was cut."""
    if isinstance(exc, Skipped):
        return False
    status = http_status(exc)
    if status is not None:
        return status == 429 or 500 <= status < 600
    from yt_dlp.networking.exceptions import TransportError
    from yt_dlp.utils import ContentTooShortError

    # ContentTooShortError: the connection closed mid-body; the retry resumes the .part by Range
    return any(isinstance(e, TransportError | TimeoutError | ConnectionError | ContentTooShortError)
               for e in _chain(exc)) or "more expected" in str(exc)


class HostGate:
    """One backoff per host, shared by every download of this process: a 429 from a host holds all of its
    next requests until the delay (Retry-After if longer) has passed, not only the request that got it."""

    _gates: ClassVar[dict[str, HostGate]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self.until = 0.0  # time.monotonic() before which no new request goes to the host
        self.holds = 0  # 429s that held this host

    @classmethod
    def of(cls, url: str) -> HostGate:
        host = urlsplit(url).netloc.lower() or url
        with cls._lock:
            return cls._gates.setdefault(host, cls())

    @classmethod
    def holds_total(cls) -> int:
        """429s that held a host in this process, all hosts together."""
        return sum(g.holds for g in cls._gates.values())

    def hold(self, delay_s: float) -> float:
        """Hold the host for at least delay_s from now; returns the deadline."""
        with self._lock:
            self.until = max(self.until, time.monotonic() + delay_s)
            self.holds += 1
            return self.until

    def remaining(self) -> float:
        return max(self.until - time.monotonic(), 0.0)


@dataclass
class Backoff:
    """Retries with exponential backoff (base, 2 x base, 4 x base ... capped; Retry-After if longer). With a
    host, a 429 holds the host's HostGate: the other downloads from it wait out the same delay."""

    retries: int = 5
    base_s: float = 2.0
    max_s: float = 120.0
    sleep: Callable[[float], None] = time.sleep

    def run(self, what: str, fn: Callable[[], T], host: str | None = None) -> T:
        gate = HostGate.of(host) if host else None
        waited_for = 0.0  # the host deadline this call already slept out
        for attempt in range(self.retries + 1):
            if gate and gate.until > waited_for and gate.remaining() > 0:  # held by another download's 429
                waited_for = gate.until
                log.info(f"{what}: {urlsplit(host).netloc} is rate limited; waiting {gate.remaining():.1f} s")
                self.sleep(gate.remaining())
            try:
                return fn()
            except Exception as exc:
                if attempt == self.retries or not _transient(exc):
                    raise
                delay = min(max(self.base_s * 2**attempt, _retry_after(exc) or 0.0), self.max_s)
                status = http_status(exc)
                if gate and status == 429:
                    waited_for = gate.hold(delay)
                log.warning(f"{what}: {'HTTP ' + str(status) if status else type(exc).__name__}; "
                            f"retry {attempt + 1}/{self.retries} in {delay:.1f} s")
                self.sleep(delay)
        raise AssertionError("unreachable")


# (phrases in yt-dlp's message, what happened, what to do)
_KNOWN = [
    (("not a bot",), "YouTube asked for a bot check",
     "set CHAFFEE_YTDLP_COOKIES to a cookies.txt exported from a signed-in browser, or try CHAFFEE_YTDLP_PROXY "
     "or CHAFFEE_YTDLP_PLAYER_CLIENT"),
    (("confirm your age", "age-restricted", "age restricted", "inappropriate for some users"), "age-gated",
     "set CHAFFEE_YTDLP_COOKIES to the cookies of a signed-in adult account"),
    (("private video",), "private video", "only the channel can make it public"),
    (("members-only", "members only", "join this channel", "channel's members"), "members-only",
     "needs CHAFFEE_YTDLP_COOKIES of a member account"),
    (("video unavailable", "has been removed", "no longer available", "has been terminated",
      "video is not available", "this video has been deleted"), "removed or unavailable",
     "nothing to do unless it comes back"),
    (("unsupported url",), "no audio or video found at the URL", "check the feed item's media link"),
]


def explain(video_id: str, url: str, exc: BaseException, attempts: int) -> DownloadError:
    """One clear per-video error: what happened, what to do, and yt-dlp's own words."""
    said = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).removeprefix("ERROR: ").strip()
    lower = said.lower()
    status = http_status(exc)
    what, todo = None, None
    for phrases, label, hint in _KNOWN:
        if any(p in lower for p in phrases):
            what, todo = label, hint
            break
    if what is None and status == 429:
        what = f"rate limited (HTTP 429) after {attempts} attempts"
        todo = "slow down (CHAFFEE_YTDLP_SLEEP_REQUESTS_S, CHAFFEE_BACKOFF_S) or use cookies or a proxy"
    elif what is None and status in (404, 410):
        what, todo = f"media not found (HTTP {status}) at {url}", "the source no longer serves this file"
    elif what is None and status == 403:
        what = "access denied (HTTP 403)"
        todo = "often a bot check or an expired media URL: try CHAFFEE_YTDLP_COOKIES / PROXY / PLAYER_CLIENT"
    elif what is None and status is not None:
        what, todo = f"HTTP {status} after {attempts} attempts", "the server failed; it may recover"
    elif what is None:
        what, todo = "download failed", "see yt-dlp's message"
    return DownloadError(f"{video_id}: {what} - {todo}; a later run retries it. yt-dlp: {said[:400]}")


class YtDlp:
    """The yt-dlp options of this deployment and the three calls the sources need."""

    def __init__(self, settings: Settings, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.backoff = Backoff(settings.download_retries, settings.backoff_s, settings.backoff_max_s, sleep)

    def params(self, **extra) -> dict:
        s = self.settings
        params: dict = {
            "quiet": True,
            "noprogress": True,
            "logger": _Logger(),
            "socket_timeout": 30,
            # HTTP retries are Backoff's (one policy for listing and download; a retry resumes the .part),
            # fragments of segmented formats are retried in place.
            "retries": 0,
            "fragment_retries": s.download_retries,
            "noplaylist": True,
        }
        if s.ytdlp_sleep_requests_s:
            params["sleep_interval_requests"] = s.ytdlp_sleep_requests_s
        if s.ytdlp_cookies:
            params["cookiefile"] = str(s.ytdlp_cookies)
        if s.ytdlp_proxy:
            params["proxy"] = s.ytdlp_proxy
        if s.ytdlp_player_client:
            params["extractor_args"] = {"youtube": {"player_client": list(s.ytdlp_player_client)}}
        return {**params, **extra}

    def entries(self, url: str) -> Iterator[tuple[dict, dict]]:
        """(entry, playlist fields) for each item of a channel, playlist or feed, lazily: a YouTube tab
        fetches its next page only when the caller reads that far."""
        import yt_dlp

        with yt_dlp.YoutubeDL(self.params(noplaylist=False)) as ydl:
            yield from self._walk(ydl, ydl.extract_info(url, download=False, process=False), 0)

    def _walk(self, ydl, result: dict | None, depth: int) -> Iterator[tuple[dict, dict]]:
        if not result or depth > 4:
            return
        kind = result.get("_type", "video")
        if kind in ("url", "url_transparent") and (depth == 0 or result.get("ie_key") == "YoutubeTab"):
            yield from self._walk(ydl, ydl.extract_info(result["url"], download=False, process=False), depth + 1)
        elif kind in ("playlist", "multi_video"):
            fields = {k: v for k, v in result.items() if k != "entries"}
            for entry in result.get("entries") or ():
                if not entry:
                    continue
                if entry.get("_type") in ("playlist", "multi_video") or entry.get("ie_key") == "YoutubeTab":
                    yield from self._walk(ydl, entry, depth + 1)
                else:
                    yield entry, fields
        else:
            yield result, {}

    def fetch(self, video: Video, dest: Path, check: Callable[[dict], None]) -> tuple[Path, dict]:
        """Full metadata, check(info) (raises Skipped to stop before any media is fetched), then bestaudio
        into dest as it is, no post-processing. A .part left by an earlier attempt is resumed (HTTP range)
        or replaced; only a finished file is returned."""
        import yt_dlp

        dest.mkdir(parents=True, exist_ok=True)
        params = self.params(format="bestaudio/best", outtmpl={"default": str(dest / f"{video.video_id}.%(ext)s")},
                             continuedl=True, overwrites=False)
        attempts = 0

        def attempt() -> tuple[Path, dict]:
            nonlocal attempts
            attempts += 1
            with yt_dlp.YoutubeDL(params) as ydl:
                info = ydl.extract_info(video.url, download=False)
                check(info)
                info = ydl.process_ie_result(info, download=True)
            return _finished_file(video.video_id, info, dest), info

        try:
            return self.backoff.run(video.video_id, attempt, host=video.url)
        except _YTDLP_ERRORS() as exc:
            raise explain(video.video_id, video.url, exc, attempts) from exc


def _YTDLP_ERRORS() -> tuple[type[BaseException], ...]:  # noqa: N802 - yt_dlp is imported only when used
    """What yt-dlp raises (extraction, download, network); anything else is a bug and propagates as is."""
    from yt_dlp.utils import YoutubeDLError

    return (YoutubeDLError, TimeoutError, ConnectionError)


def _finished_file(video_id: str, info: dict, dest: Path) -> Path:
    for done in info.get("requested_downloads") or ():
        path = Path(done.get("filepath") or "")
        finished = path.is_file() and not path.name.endswith(".part") and path.stat().st_size > 0
        if finished and path.resolve().parent == dest.resolve():
            return path
    raise DownloadError(f"{video_id}: yt-dlp finished without a complete file in {dest}; a later run retries it")


class YtDlpSource:
    """list() and download() for anything yt-dlp reads: subclasses parse listing entries into Videos."""

    source_type = ""
    info_wins = False  # True: the full metadata replaces the listing's (YouTube); False: it only fills gaps
    incremental = False  # True where the listing is newest first, so a scan may stop at known videos

    def __init__(self, url: str | None = None, filters: Filters | None = None, settings: Settings | None = None,
                 ytdlp: YtDlp | None = None) -> None:
        self.settings = settings or get_settings()
        self.url = self.listing_url(url) if url else None
        self.filters = filters or Filters.from_settings(self.settings)
        self.ytdlp = ytdlp or YtDlp(self.settings)

    def listing_url(self, url: str) -> str:
        return url

    def to_video(self, entry: dict, playlist: dict) -> Video:
        raise NotImplementedError

    def list(self) -> list[Video]:
        return self.scan().videos

    def scan(self, known=frozenset(), stop_after_known: int | None = None) -> Listing:
        """The listing through the filters; stops after `stop_after_known` known ids in a row."""
        if not self.url:
            raise ValueError(f"{self.source_type} source: no URL to list")

        def once() -> Listing:
            return scan(self.ytdlp.entries(self.url), lambda e: self.to_video(*e), self.filters, known,
                        stop_after_known)

        try:
            return self.ytdlp.backoff.run(self.url, once, host=self.url)
        except _YTDLP_ERRORS() as exc:
            raise explain(f"listing {self.url}", self.url, exc, self.ytdlp.backoff.retries + 1) from exc

    def download(self, video: Video, dest: Path) -> Path:
        """bestaudio of one video into dest. Filters are checked again on the full metadata before any
        media is fetched, and on the file itself when the duration was still unknown (Skipped)."""

        def check(info: dict) -> None:
            self.refresh(video, info)
            self._check(video)

        path, info = self.ytdlp.fetch(video, dest, check)
        video.metadata["download"] = {k: info.get(k) for k in ("extractor_key", "format_id", "ext", "acodec", "abr")
                                      if info.get(k) is not None} | {"via": "yt-dlp"}
        if video.duration_s is None:
            from chaffee_assets.speech import audio

            try:
                video.duration_s = audio.duration(path) or None
            except audio.AudioError:
                pass  # raw_audio's conversion reports what is wrong with the file
            self._check(video)
        return path

    def _check(self, video: Video) -> None:
        why = self.filters.reason(video)
        if why:
            raise Skipped(f"{video.video_id}: skipped, {why} ({self.filters.hint(why)})")

    def refresh(self, video: Video, info: dict) -> None:
        """Fold the full metadata of one video into its Video (what `sources` keeps)."""
        wins = self.info_wins
        duration = info.get("duration")
        if isinstance(duration, int | float) and (wins or video.duration_s is None):
            video.duration_s = float(duration)
        published = timestamp(info.get("timestamp")) or timestamp(info.get("release_timestamp")) or timestamp(
            info.get("upload_date"))
        if published and (wins or video.published_at is None):
            video.published_at = published
        if info.get("title") and (wins or not video.title):
            video.title = info["title"]
        for key in ("description", "channel", "channel_id", "view_count", "availability", "live_status"):
            value = info.get(key)
            if key == "channel":
                value = value or info.get("uploader")
            if value is not None and (wins or video.metadata.get(key) is None):
                video.metadata[key] = value
