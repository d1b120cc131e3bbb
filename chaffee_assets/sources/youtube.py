"""A YouTube channel or playlist as a source (yt-dlp): a flat listing, newest first, and bestaudio."""

from __future__ import annotations

import re

from chaffee_assets.sources.base import Video
from chaffee_assets.sources.filters import check_youtube_id, timestamp
from chaffee_assets.sources.ytdlp import YtDlpSource

YOUTUBE_URL = re.compile(r"^https?://(?:(?:www|m|music)\.)?(?:youtube\.com|youtu\.be)(?:/|$)", re.I)
CHANNEL = r"youtube\.com/(?:@|channel/|c/|user/)[^/?#]+"
# A channel's root page (no tab): listing it would add the shorts and live tabs to the uploads.
CHANNEL_ROOT = re.compile(rf"^(?P<root>https?://(?:(?:www|m)\.)?{CHANNEL})/?(?P<rest>[?#].*)?$", re.I)
CHANNEL_TAB = re.compile(rf"{CHANNEL}/(?:videos|streams)(?:[/?#]|$)", re.I)
VIDEO_IN_URL = re.compile(r"(?:[?&]v=|youtu\.be/|/shorts/|/live/|/embed/)([A-Za-z0-9_-]{11})(?![A-Za-z0-9_-])")


def is_youtube_url(url: str) -> bool:
    return bool(YOUTUBE_URL.match(url))


def youtube_id_in(url: str) -> str | None:
    """The video id in a YouTube watch/shorts/live/youtu.be URL, if any."""
    found = VIDEO_IN_URL.search(url) if is_youtube_url(url) else None
    return found.group(1) if found else None


def watch_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


class YouTubeSource(YtDlpSource):
    source_type = "youtube"
    info_wins = True  # the video page's description, date and counts beat the listing's

    @property
    def incremental(self) -> bool:
        """A channel's uploads tab lists newest first, so a scan may stop at known videos; a playlist's
        order is its owner's, so it is always read whole."""
        return bool(self.url and CHANNEL_TAB.search(self.url))

    def listing_url(self, url: str) -> str:
        """A channel root lists only its uploads (/videos); playlists and tabs are listed as given."""
        found = CHANNEL_ROOT.match(url.strip())
        return f"{found['root']}/videos{found['rest'] or ''}" if found else url.strip()

    def to_video(self, entry: dict, playlist: dict) -> Video:
        """A flat-listing entry (yt-dlp --flat-playlist) as a Video; a malformed id raises InvalidVideoId."""
        video_id = check_youtube_id(entry.get("id"))
        url = entry.get("url") or ""
        if youtube_id_in(url) != video_id:
            url = watch_url(video_id)
        duration = entry.get("duration")
        channel = (entry.get("channel") or entry.get("uploader") or entry.get("playlist_channel")
                   or playlist.get("channel") or playlist.get("uploader"))
        metadata = {
            "description": entry.get("description"),
            "channel": channel,
            "channel_id": entry.get("channel_id") or entry.get("playlist_channel_id") or playlist.get("channel_id"),
            "view_count": entry.get("view_count"),
            "availability": entry.get("availability"),
            "live_status": entry.get("live_status"),
            "listed_from": self.url,
        }
        return Video(
            video_id=video_id,
            source_type=self.source_type,
            url=url,
            title=entry.get("title"),
            published_at=timestamp(entry.get("timestamp")) or timestamp(entry.get("release_timestamp"))
            or timestamp(entry.get("upload_date")),
            duration_s=float(duration) if isinstance(duration, int | float) else None,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )
