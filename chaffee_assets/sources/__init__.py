"""Sources of videos: youtube, rss, local. One interface: list() and download()."""

from __future__ import annotations

from chaffee_assets.sources.base import DownloadError, Source, Video


def source_for(video: Video) -> Source:
    """The source that can download an already-registered video."""
    if video.source_type == "local":
        from chaffee_assets.sources.local import LocalSource

        return LocalSource()
    raise DownloadError(f"{video.video_id}: source type {video.source_type!r} is not supported yet")


__all__ = ["DownloadError", "Source", "Video", "source_for"]
