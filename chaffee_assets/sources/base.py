"""One interface for every source: list() what exists, download() one video's audio once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass
class Video:
    video_id: str  # the Dagster partition key
    source_type: str  # youtube | rss | local
    url: str
    title: str | None = None
    published_at: datetime | None = None
    duration_s: float | None = None
    metadata: dict = field(default_factory=dict)


class DownloadError(RuntimeError):
    """A video that cannot be fetched; the message names the video and says what to do."""


class Skipped(DownloadError):
    """A filter (short, live, members-only, too old) that only the full metadata or the file could decide:
    the video is marked 'skipped' in `sources`, not failed."""


class Source(Protocol):
    def list(self) -> list[Video]: ...

    def download(self, video: Video, dest: Path) -> Path:
        """Fetch the media for one video into dest (a directory); return the file written."""
        ...
