"""The `sources` table: one row per video, its status and the error that stopped it."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from chaffee_assets.sources.base import Video
from chaffee_assets.store.files import check_video_id

# Videos that later stages pass over: a stage failed, or a filter decided at download excluded it.
INACTIVE = ("failed", "skipped")

STAGE_STATUS = {"raw_audio": "downloaded", "transcripts": "transcribed", "diarization": "diarized",
                "speaker_labels": "labelled", "embeddings": "done"}


# Listing fields kept as columns of `sources` (002), not repeated in its metadata.
COLUMNS = ("description", "channel", "view_count")


def register(conn: psycopg.Connection, videos: list[Video]) -> None:
    """Insert new videos; refresh the listing fields of known ones without touching their status."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO sources (source_type, video_id, title, url, published_at, duration_s, metadata,
                                 description, channel, view_count)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (video_id) DO UPDATE SET
              title = EXCLUDED.title, url = EXCLUDED.url,
              published_at = COALESCE(EXCLUDED.published_at, sources.published_at),
              duration_s = COALESCE(sources.duration_s, EXCLUDED.duration_s),
              description = COALESCE(EXCLUDED.description, sources.description),
              channel = COALESCE(EXCLUDED.channel, sources.channel),
              view_count = COALESCE(EXCLUDED.view_count, sources.view_count),
              metadata = sources.metadata || EXCLUDED.metadata, updated_at = now()
            """,
            [(v.source_type, check_video_id(v.video_id), v.title, v.url, v.published_at, v.duration_s,
              Jsonb({k: x for k, x in v.metadata.items() if k not in COLUMNS}),
              *(v.metadata.get(k) for k in COLUMNS)) for v in videos],
        )


def get(conn: psycopg.Connection, video_id: str) -> Video:
    row = conn.execute(
        "SELECT video_id, source_type, url, title, published_at, duration_s, metadata FROM sources WHERE video_id = %s",
        (check_video_id(video_id),),
    ).fetchone()
    if row is None:
        raise KeyError(f"{video_id}: not in sources (register it with `chaffee ingest` first)")
    return Video(*row)


def backlog(conn: psycopg.Connection) -> dict[str, int]:
    """Videos waiting at each status across the platform (the stage queues operators watch)."""
    counts = dict(conn.execute("SELECT status, count(*) FROM sources GROUP BY status").fetchall())
    return {s: counts.get(s, 0) for s in ("discovered", "downloaded", "transcribed", "diarized", "labelled")}


def statuses(conn: psycopg.Connection, video_ids: list[str]) -> dict[str, str]:
    rows = conn.execute("SELECT video_id, status FROM sources WHERE video_id = ANY(%s)", (list(video_ids),))
    return dict(rows.fetchall())


def mark(conn: psycopg.Connection, video_id: str, status: str, *, error: str | None = None,
         duration_s: float | None = None, metadata: dict | None = None) -> None:
    """Record a stage outcome. A failure keeps the error text; success clears it."""
    with conn.transaction():
        conn.execute(
            """
            UPDATE sources SET status = %s, error = %s, updated_at = now(),
              duration_s = COALESCE(%s, duration_s),
              metadata = metadata || %s,
              started_at = CASE WHEN %s = 'downloaded' THEN now() ELSE started_at END
            WHERE video_id = %s
            """,
            (status, error, duration_s, Jsonb(metadata or {}), status, check_video_id(video_id)),
        )


def now(conn: psycopg.Connection):
    """The database's clock (the reference for `changed_since`, whichever process asks)."""
    return conn.execute("SELECT now()").fetchone()[0]


def changed_since(conn: psycopg.Connection, video_ids: list[str], since) -> dict[str, str]:
    """Status of the videos whose status was set at or after `since` (a `now()` of this database)."""
    rows = conn.execute("SELECT video_id, status FROM sources WHERE video_id = ANY(%s) AND updated_at >= %s",
                        (list(video_ids), since))
    return dict(rows.fetchall())


def downloaded(conn: psycopg.Connection) -> dict[str, float | None]:
    """Videos downloaded and not yet processed, with their audio's length in seconds (None if unknown)."""
    rows = conn.execute("SELECT video_id, duration_s FROM sources WHERE status = 'downloaded'").fetchall()
    return dict(rows)
