"""The `segments` table: a run's videos replaced in one transaction (one COPY), searched by cosine distance."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import psycopg

from chaffee_assets.speech.text.chunks import Chunk
from chaffee_assets.store import embedding_models
from chaffee_assets.store.files import check_video_id


Vectors = np.ndarray | dict[str, np.ndarray]  # one model's (named by `model`), or {model name: vectors}


def replace_many(conn: psycopg.Connection, batch: dict[str, tuple[list[Chunk], Vectors]], model: str | None = None, *,
                 embed: Callable[[str, list[str]], np.ndarray] | None = None) -> dict[str, int]:
    """Swap the rows of every video in batch ({video_id: (chunks, vectors)}) for new ones and mark them
    done, in one transaction: all of them or none. Returns the row count per video.

    Vectors are written for the corpus's live models (embedding_models.live: the serving one, and one
    backfilling during a model change); an empty registry takes the first model given as serving. A live
    model without vectors here: the serving one is embedded now by embed (a switch came between the
    caller's embedding and this write), a backfilling one is left to its backfill. A retired model's are
    dropped; a model the corpus does not know is an error."""
    given = {v: vectors if isinstance(vectors, dict) else {model: vectors} for v, (_, vectors) in batch.items()}
    for video_id, (chunks, _vectors) in batch.items():
        for name, vectors in given[video_id].items():
            if len(chunks) != len(vectors):
                raise ValueError(f"{video_id}: {len(chunks)} chunks but {len(vectors)} vectors of {name}")
    wanted = [check_video_id(v) for v in batch]
    with conn.transaction():
        ids = dict(conn.execute(
            "SELECT video_id, id FROM sources WHERE video_id = ANY(%s) ORDER BY id FOR UPDATE", (wanted,)
        ).fetchall())
        missing = [v for v in wanted if v not in ids]
        if missing:
            raise KeyError(f"{', '.join(missing)}: not in sources")
        live = embedding_models.live(conn, lock=True) or _first_model(conn, given)
        names = sorted({name for g in given.values() for name in g})
        known = {r[0] for r in conn.execute("SELECT name FROM embedding_models WHERE name = ANY(%s)", (names,))}
        if set(names) - known:
            raise embedding_models.ModelChangeError(
                f"{', '.join(sorted(set(names) - known))}: not a model of this corpus (live: "
                f"{', '.join(m.name for m in live) or 'none'}); `chaffee embeddings add` starts a model change")
        vectors = {v: _vectors_for(v, batch[v][0], given[v], live, embed) for v in wanted}
        column = next((m for m in live if m.in_column), None)
        conn.execute("DELETE FROM segments WHERE source_id = ANY(%s)", (list(ids.values()),))
        with conn.cursor().copy(
            "COPY segments (source_id, seq, start_s, end_s, speaker, speaker_conf, text, embedding, embedding_model)"
            " FROM STDIN"
        ) as copy:
            for video_id, (chunks, _vectors) in batch.items():
                in_column = vectors[video_id].get(column.name) if column else None
                for seq, c in enumerate(chunks):
                    v = None if in_column is None else in_column[seq]
                    copy.write_row((ids[video_id], seq, c.start, c.end, c.speaker, c.speaker_conf, c.text, v,
                                    None if v is None else column.name))
        _write_side_vectors(conn, [m for m in live if not m.in_column], ids, vectors)
        conn.execute(
            "UPDATE sources SET status = 'done', error = NULL, finished_at = now(), updated_at = now()"
            " WHERE id = ANY(%s)", (list(ids.values()),),
        )
    return {video_id: len(chunks) for video_id, (chunks, _vectors) in batch.items()}


def _first_model(conn: psycopg.Connection, given: dict[str, dict[str, np.ndarray]]) -> list:
    """A new corpus: the first model with vectors here serves (registered by embedding_models.first)."""
    for by_model in given.values():
        for name, vectors in by_model.items():
            array = np.asarray(vectors, dtype=np.float32)
            if array.ndim == 2 and len(array):
                return [embedding_models.first(conn, name, array.shape[1])]
    return []


def _vectors_for(video_id: str, chunks: list[Chunk], given: dict[str, np.ndarray], live: list,
                 embed) -> dict[str, np.ndarray]:
    """{live model: vectors} of one video, checked against the model's dimension (see replace_many)."""
    out = {}
    for m in live:
        vectors = given.get(m.name)
        if vectors is None and m.state == "serving":
            if embed is None:
                raise embedding_models.ModelChangeError(f"{video_id}: no vectors of {m.name}, the serving model")
            vectors = embed(m.name, [c.text for c in chunks])
        if vectors is None:
            continue
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(chunks), -1 if chunks else m.dim)
        if vectors.shape[1] != m.dim:
            raise ValueError(f"{video_id}: vectors of {m.name} have {vectors.shape[1]} dimensions, the model {m.dim}")
        out[m.name] = vectors
    return out


def _write_side_vectors(conn: psycopg.Connection, side: list, ids: dict[str, int], vectors: dict) -> None:
    """The live models' vectors that live in segment_vectors, keyed to the segment rows just written."""
    side = [m for m in side if any(m.name in vectors[v] for v in ids)]
    if not side:
        return
    found = conn.execute("SELECT source_id, seq, id, speaker FROM segments WHERE source_id = ANY(%s)",
                         (list(ids.values()),)).fetchall()
    where = {(source, seq): (sid, speaker) for source, seq, sid, speaker in found}
    for m in side:
        rows = []
        for video_id, source in ids.items():
            for seq, vector in enumerate(vectors[video_id].get(m.name, ())):
                sid, speaker = where[(source, seq)]
                rows.append((sid, source, speaker, vector))
        embedding_models.write(conn, m, rows)


def replace(conn: psycopg.Connection, video_id: str, chunks: list[Chunk], vectors: Vectors, model: str | None = None, *,
            embed: Callable[[str, list[str]], np.ndarray] | None = None) -> int:
    """One video's replace_many. Returns its row count."""
    return replace_many(conn, {video_id: (chunks, vectors)}, model, embed=embed)[video_id]


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
