"""Sources of videos: youtube, rss, local. One interface: list() and download()."""

from __future__ import annotations

from chaffee_assets.sources.base import DownloadError, Skipped, Source, Video


def source_for(video: Video) -> Source:
    """The source that can download an already-registered video."""
    if video.source_type == "local":
        from chaffee_assets.sources.local import LocalSource

        return LocalSource()
    if video.source_type == "youtube":
        from chaffee_assets.sources.youtube import YouTubeSource

        return YouTubeSource()
    if video.source_type == "rss":
        from chaffee_assets.sources.rss import RssSource

        return RssSource()
    raise DownloadError(f"{video.video_id}: source type {video.source_type!r} is not supported")


def source_for_url(url: str, **kwargs) -> Source:
    """A channel/playlist on youtube.com, or an RSS/podcast feed for any other URL."""
    from chaffee_assets.sources.youtube import YouTubeSource, is_youtube_url

    if is_youtube_url(url):
        return YouTubeSource(url, **kwargs)
    from chaffee_assets.sources.rss import RssSource

    return RssSource(url, **kwargs)


__all__ = ["DownloadError", "Skipped", "Source", "Video", "source_for", "source_for_url"]
