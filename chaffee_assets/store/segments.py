"""The `segments` table: replaced per video in one transaction, searched by cosine distance."""

from __future__ import annotations

import numpy as np
import psycopg

from chaffee_assets.speech.chunks import Chunk
from chaffee_assets.store.files import check_video_id


def replace(conn: psycopg.Connection, video_id: str, chunks: list[Chunk], vectors: np.ndarray, model: str) -> int:
    """Swap a video's rows for new ones atomically (COPY), and mark the video done. Returns the row count."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{video_id}: {len(chunks)} chunks but {len(vectors)} vectors")
    with conn.transaction():
        row = conn.execute(
            "SELECT id FROM sources WHERE video_id = %s FOR UPDATE", (check_video_id(video_id),)
        ).fetchone()
        if row is None:
            raise KeyError(f"{video_id}: not in sources")
        source_id = row[0]
        conn.execute("DELETE FROM segments WHERE source_id = %s", (source_id,))
        with conn.cursor().copy(
            "COPY segments (source_id, seq, start_s, end_s, speaker, speaker_conf, text, embedding, embedding_model)"
            " FROM STDIN"
        ) as copy:
            for seq, (c, v) in enumerate(zip(chunks, vectors)):
                copy.write_row((source_id, seq, c.start, c.end, c.speaker, c.speaker_conf, c.text, v, model))
        conn.execute(
            "UPDATE sources SET status = 'done', error = NULL, finished_at = now(), updated_at = now() WHERE id = %s",
            (source_id,),
        )
    return len(chunks)


def count(conn: psycopg.Connection, video_id: str | None = None) -> int:
    if video_id is None:
        return conn.execute("SELECT count(*) FROM segments").fetchone()[0]
    return conn.execute(
        "SELECT count(*) FROM segments g JOIN sources s ON s.id = g.source_id WHERE s.video_id = %s", (video_id,)
    ).fetchone()[0]


def search(conn: psycopg.Connection, query: np.ndarray, *, k: int = 5, speaker: str | None = None) -> list[dict]:
    """Nearest segments by cosine distance (HNSW); score = cosine similarity."""
    rows = conn.execute(
        """
        SELECT s.video_id, g.start_s, g.end_s, g.speaker, g.text, 1 - (g.embedding <=> %(q)s) AS score,
               s.source_type, s.url
        FROM segments g JOIN sources s ON s.id = g.source_id
        WHERE %(speaker)s::text IS NULL OR g.speaker = %(speaker)s
        ORDER BY g.embedding <=> %(q)s
        LIMIT %(k)s
        """,
        {"q": np.asarray(query, dtype=np.float32), "speaker": speaker, "k": k},
    ).fetchall()
    return [
        {"video_id": vid, "start_s": round(start, 2), "end_s": round(end, 2), "speaker": spk, "text": text,
         "score": round(float(score), 4), "url": link(kind, url, start)}
        for vid, start, end, spk, text, score, kind, url in rows
    ]


def link(source_type: str, url: str, start_s: float) -> str:
    if source_type == "youtube":
        return f"{url}{'&' if '?' in url else '?'}t={int(start_s)}s"
    return f"{url}#t={start_s:.1f}"


def stats(conn: psycopg.Connection) -> dict:
    """The operators' figures: videos, audio hours, elapsed wall time and hours of audio per hour."""
    videos, audio_s, first, last, failed, segs = conn.execute(
        """
        SELECT count(*) FILTER (WHERE status = 'done'),
               coalesce(sum(duration_s) FILTER (WHERE status = 'done'), 0),
               min(started_at) FILTER (WHERE status = 'done'), max(finished_at) FILTER (WHERE status = 'done'),
               count(*) FILTER (WHERE status = 'failed'),
               (SELECT count(*) FROM segments)
        FROM sources
        """
    ).fetchone()
    elapsed = (last - first).total_seconds() if first and last else 0.0
    return {
        "videos": videos,
        "failed": failed,
        "segments": segs,
        "audio_hours": round(audio_s / 3600, 4),
        "elapsed_hours": round(elapsed / 3600, 4),
        "hours_per_hour": round(audio_s / elapsed, 2) if elapsed > 0 else None,
    }
