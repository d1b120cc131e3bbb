"""An RSS/podcast feed as a source (yt-dlp's feed reader): one video per item with a media link."""

from __future__ import annotations

import hashlib

from chaffee_assets.sources.base import Video
from chaffee_assets.sources.filters import check_youtube_id, timestamp
from chaffee_assets.sources.youtube import youtube_id_in
from chaffee_assets.sources.ytdlp import YtDlpSource


def rss_id(key: str) -> str:
    """A stable partition key for a feed item: 'rss-' + 12 hex of its guid (or media URL)."""
    return "rss-" + hashlib.sha1(key.encode()).hexdigest()[:12]


class RssSource(YtDlpSource):
    source_type = "rss"
    info_wins = False  # a direct media link's metadata is poorer than the feed item's

    def to_video(self, entry: dict, playlist: dict) -> Video:
        """A feed item: its declared duration (itunes:duration) drives the shorts filter; an item without
        one is kept and checked on the downloaded file."""
        from yt_dlp.utils import unsmuggle_url

        url, smuggled = unsmuggle_url(entry.get("url") or "", {})
        guid = (smuggled or {}).get("force_videoid")
        youtube = youtube_id_in(url)
        duration = entry.get("duration")
        metadata = {
            "guid": guid,
            "feed": self.url,
            "channel": playlist.get("title"),
            "description": entry.get("description"),
            "episode": entry.get("episode"),
        }
        return Video(
            video_id=check_youtube_id(youtube) if youtube else rss_id(guid or url),
            source_type=self.source_type,
            url=url,
            title=entry.get("title"),
            published_at=timestamp(entry.get("timestamp")),
            duration_s=float(duration) if isinstance(duration, int | float) else None,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )
