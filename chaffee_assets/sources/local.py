"""A folder of audio/video files as a source; the partition key is a stable id derived from each file."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from pathlib import Path

from chaffee_assets.sources.base import DownloadError, Video
from chaffee_assets.speech import audio

MEDIA_SUFFIXES = {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".webm", ".mp4", ".mkv", ".aac", ".mov"}


def local_id(path: Path) -> str:
    """'<slug of the file name>-<8 hex of its content hash>': readable and stable across moves."""
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:40] or "file"
    return f"{slug}-{digest.hexdigest()[:8]}"


class LocalSource:
    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        if self.folder is not None and not self.folder.is_dir():
            raise FileNotFoundError(f"local source: {self.folder} is not a directory")

    def list(self) -> list[Video]:
        if self.folder is None:
            raise ValueError("local source: no folder to list")
        videos = []
        for path in sorted(p for p in self.folder.rglob("*") if p.suffix.lower() in MEDIA_SUFFIXES and p.is_file()):
            try:
                seconds = audio.duration(path) or None
            except audio.AudioError:
                seconds = None  # kept: raw_audio reports the cause for this video
            videos.append(
                Video(
                    video_id=local_id(path),
                    source_type="local",
                    url=path.resolve().as_uri(),
                    title=path.stem,
                    published_at=datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc),
                    duration_s=seconds,
                    metadata={"path": str(path.resolve())},
                )
            )
        return videos

    def download(self, video: Video, dest: Path) -> Path:
        path = Path(video.metadata.get("path") or video.url.removeprefix("file://"))
        if not path.is_file():
            raise DownloadError(f"{video.video_id}: local file {path} no longer exists")
        return path  # already on disk: raw_audio converts it straight from here
