"""The `segments` table: a run's videos replaced in one transaction (one COPY), searched by cosine distance."""

from __future__ import annotations

import numpy as np
import psycopg

from chaffee_assets.speech.text.chunks import Chunk
from chaffee_assets.store.files import check_video_id


def replace_many(conn: psycopg.Connection, batch: dict[str, tuple[list[Chunk], np.ndarray]], model: str) -> dict[str, int]:
    """Swap the rows of every video in batch ({video_id: (chunks, vectors)}) for new ones and mark them
    done, in one transaction with one COPY: all of them or none. Returns the row count per video."""
    for video_id, (chunks, vectors) in batch.items():
        if len(chunks) != len(vectors):
            raise ValueError(f"{video_id}: {len(chunks)} chunks but {len(vectors)} vectors")
    wanted = [check_video_id(v) for v in batch]
    with conn.transaction():
        ids = dict(conn.execute(
            "SELECT video_id, id FROM sources WHERE video_id = ANY(%s) ORDER BY id FOR UPDATE", (wanted,)
        ).fetchall())
        missing = [v for v in wanted if v not in ids]
        if missing:
            raise KeyError(f"{', '.join(missing)}: not in sources")
        conn.execute("DELETE FROM segments WHERE source_id = ANY(%s)", (list(ids.values()),))
        with conn.cursor().copy(
            "COPY segments (source_id, seq, start_s, end_s, speaker, speaker_conf, text, embedding, embedding_model)"
            " FROM STDIN"
        ) as copy:
            for video_id, (chunks, vectors) in batch.items():
                for seq, (c, v) in enumerate(zip(chunks, vectors)):
                    copy.write_row((ids[video_id], seq, c.start, c.end, c.speaker, c.speaker_conf, c.text, v, model))
        conn.execute(
            "UPDATE sources SET status = 'done', error = NULL, finished_at = now(), updated_at = now()"
            " WHERE id = ANY(%s)", (list(ids.values()),),
        )
    return {video_id: len(chunks) for video_id, (chunks, _vectors) in batch.items()}


def replace(conn: psycopg.Connection, video_id: str, chunks: list[Chunk], vectors: np.ndarray, model: str) -> int:
    """One video's replace_many. Returns its row count."""
    return replace_many(conn, {video_id: (chunks, vectors)}, model)[video_id]


def count(conn: psycopg.Connection, video_id: str | None = None) -> int:
    if video_id is None:
        return conn.execute("SELECT count(*) FROM segments").fetchone()[0]
    return conn.execute(
        "SELECT count(*) FROM segments g JOIN sources s ON s.id = g.source_id WHERE s.video_id = %s", (video_id,)
    ).fetchone()[0]


def search(conn: psycopg.Connection, query: np.ndarray, *, k: int = 5, speaker: str | None = None) -> list[dict]:
    """Nearest segments by cosine distance (HNSW); score = cosine similarity. `speaker` ignores case."""
    rows = conn.execute(
        """
        SELECT s.video_id, g.start_s, g.end_s, g.speaker, g.text, 1 - (g.embedding <=> %(q)s) AS score,
               s.source_type, s.url
        FROM segments g JOIN sources s ON s.id = g.source_id
        WHERE %(speaker)s::text IS NULL OR lower(g.speaker) = lower(%(speaker)s)
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
