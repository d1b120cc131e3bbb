"""Which listed videos to ingest: shorts, live/upcoming, members-only, --since, --limit, newest-first.

The same filters run twice: on the listing (cheap, from the flat metadata) and again in download() on
the full metadata or the file, for what the listing could not tell (unknown duration, no date).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone

from chaffee_assets.settings import Settings
from chaffee_assets.sources.base import Video
from chaffee_assets.store.files import InvalidVideoId, check_video_id

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
# Availability values (yt-dlp) that need an account the platform does not have.
RESTRICTED = {"private", "premium_only", "subscriber_only", "needs_auth"}
# Live status values that are not (yet) a finished recording.
NOT_RECORDED = {"is_live", "is_upcoming", "post_live"}
# Reasons that can change on a later listing: such videos are looked at again.
TEMPORARY = {"live"}


def check_youtube_id(video_id: object) -> str:
    """A YouTube id (11 characters of [A-Za-z0-9_-]) that is also a valid partition key and file name."""
    if not isinstance(video_id, str) or not YOUTUBE_ID.match(video_id):
        raise InvalidVideoId(f"invalid YouTube video id {video_id!r}: expected 11 characters of [A-Za-z0-9_-]")
    return check_video_id(video_id)


def timestamp(value: object) -> datetime | None:
    """A yt-dlp timestamp (epoch seconds) or upload_date (YYYYMMDD) as an aware datetime."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str) and re.fullmatch(r"\d{8}", value):
        return datetime.strptime(value, "%Y%m%d").replace(tzinfo=timezone.utc)
    return None


@dataclass(frozen=True)
class Filters:
    skip_shorts: bool = True
    short_max_s: float = 120.0  # shorter than this (or a /shorts/ URL) is a short
    skip_live: bool = True  # live now, upcoming, or just ended and not yet processed by YouTube
    skip_members: bool = True  # members-only, subscriber-only, premium, private, needs sign-in
    since: date | None = None  # only videos published on or after this day
    limit: int | None = None  # at most this many (after the other filters and the ordering)
    newest_first: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> Filters:
        base = cls(skip_shorts=settings.skip_shorts, short_max_s=settings.short_max_s, skip_live=settings.skip_live,
                   skip_members=settings.skip_members, since=settings.since)
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def reason(self, video: Video) -> str | None:
        """Why this video is left out, or None to keep it. Unknown facts never exclude a video."""
        meta = video.metadata
        if self.skip_live and meta.get("live_status") in NOT_RECORDED:
            return f"live ({meta['live_status']})"
        if self.skip_members and meta.get("availability") in RESTRICTED:
            return f"members-only ({meta['availability']})"
        if self.skip_shorts:
            if "/shorts/" in video.url:
                return "short (/shorts/ URL)"
            if video.duration_s is not None and video.duration_s < self.short_max_s:
                return f"short ({video.duration_s:.0f} s < {self.short_max_s:.0f} s)"
        if self.since and video.published_at and video.published_at.date() < self.since:
            return f"published {video.published_at.date()} before {self.since}"
        return None

    @staticmethod
    def hint(reason: str) -> str:
        """How to let such a video through."""
        return {
            "live": "it is looked at again once the stream is over; CHAFFEE_SKIP_LIVE=0 keeps it",
            "members-only": "CHAFFEE_SKIP_MEMBERS=0 with CHAFFEE_YTDLP_COOKIES of a member account keeps it",
            "short": "--no-skip-shorts or CHAFFEE_SKIP_SHORTS=0 keeps it",
            "published": "--since or CHAFFEE_SINCE sets the first day",
        }.get(reason.split(" ", 1)[0], "")

    def order(self, videos: list[Video]) -> list[Video]:
        """Newest first by publication date where known (listing order otherwise), then the limit."""
        floor = datetime.min.replace(tzinfo=timezone.utc)
        ordered = sorted(videos, key=lambda v: v.published_at or floor, reverse=True)
        if not self.newest_first:
            ordered.reverse()
        return ordered[: self.limit] if self.limit else ordered


def is_temporary(reason: str) -> bool:
    return reason.split(" ", 1)[0] in TEMPORARY


@dataclass
class Listing:
    """One pass over a source's listing."""

    videos: list[Video] = field(default_factory=list)  # kept and not known before, filtered and ordered
    rejected: dict[str, str] = field(default_factory=dict)  # video id -> why it was left out
    invalid: list[str] = field(default_factory=list)  # entries dropped for a malformed id (the messages)
    listed: int = 0  # entries read
    known: int = 0  # entries already known (partitions, or rejected on an earlier pass)
    complete: bool = True  # False when the pass stopped early at a run of known ids


def scan(
    entries: Iterable[dict],
    to_video: Callable[[dict], Video],
    filters: Filters,
    known: Container[str] = frozenset(),
    stop_after_known: int | None = None,
) -> Listing:
    """Read listing entries (newest first) into videos; stop after `stop_after_known` known ids in a row.

    That early stop is what makes the sensor incremental: new uploads sit at the top of a channel's
    listing, so a tick reads one page instead of the whole channel.
    """
    out, seen, in_a_row = Listing(), set(), 0
    for entry in entries:
        out.listed += 1
        try:
            video = to_video(entry)
        except InvalidVideoId as exc:
            out.invalid.append(str(exc))
            continue
        if video.video_id in seen:
            continue
        seen.add(video.video_id)
        if video.video_id in known:
            out.known += 1
            in_a_row += 1
            if stop_after_known and in_a_row >= stop_after_known:
                out.complete = False
                break
            continue
        in_a_row = 0
        why = filters.reason(video)
        if why:
            out.rejected[video.video_id] = why
        else:
            out.videos.append(video)
    out.videos = filters.order(out.videos)
    return out
