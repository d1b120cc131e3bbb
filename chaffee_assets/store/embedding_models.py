"""The corpus's embedding models (sql/005) and where each one's vectors live.

One model serves search. A model change: `add` registers the new one as backfilling; from then on every
ingest writes vectors of both (`live`); `backfill` gives every older segment its vector, builds the new
model's HNSW index and `switch`es: in one transaction, once no segment lacks a vector, the new model serves
and the old one is retired. Searches before the switch use the old model, searches after it the new one;
none waits for the backfill and none sees a half-filled index.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import psycopg
import psycopg.errors
from psycopg import sql

COLUMN_DIM = 384  # segments.embedding is vector(384): the first model's vectors live there when they fit


class ModelChangeError(ValueError):
    """A model change asked for something the registry does not allow; the message says what and why."""


@dataclass(frozen=True)
class Model:
    name: str
    dim: int
    state: str  # backfilling, serving, retired
    in_column: bool  # vectors in segments.embedding, else rows of segment_vectors

    @property
    def index(self) -> str:
        if self.in_column:
            return "segments_embedding_hnsw"
        return "segment_vectors_hnsw_" + hashlib.sha1(self.name.encode()).hexdigest()[:12]

    @property
    def table(self) -> sql.Composable:
        return sql.Identifier("segments" if self.in_column else "segment_vectors")

    @property
    def id_column(self) -> sql.Composable:
        return sql.Identifier("id" if self.in_column else "segment_id")

    @property
    def vector(self) -> sql.Composable:
        """The indexed expression: a partial index per model needs the dimension cast in."""
        return sql.SQL("embedding" if self.in_column else f"(embedding::vector({int(self.dim)}))")

    @property
    def rows(self) -> sql.Composable:
        """The predicate of this model's vectors in its table (the partial index's)."""
        if self.in_column:
            return sql.SQL("embedding IS NOT NULL")
        return sql.SQL("model = {}").format(sql.Literal(self.name))

    @property
    def scope(self) -> sql.Composable:
        """What a search over a serving model adds to its WHERE: nothing for the column (it serves only
        while every segment has its vector), the partial index's predicate otherwise."""
        return sql.SQL("TRUE") if self.in_column else self.rows


def _models(conn: psycopg.Connection, where: str, params: tuple = (), lock: str = "") -> list[Model]:
    rows = conn.execute(f"SELECT name, dim, state, in_column FROM embedding_models WHERE {where}"
                        f" ORDER BY created_at, name {lock}", params).fetchall()
    return [Model(*r) for r in rows]


def registered(conn: psycopg.Connection) -> list[Model]:
    return _models(conn, "TRUE")


def serving(conn: psycopg.Connection) -> Model | None:
    found = _models(conn, "state = 'serving'")
    return found[0] if found else None


def live(conn: psycopg.Connection, *, lock: bool = False) -> list[Model]:
    """The models an ingest writes: the serving one and the one backfilling. lock (inside a writer's
    transaction): FOR SHARE, so a switch waits for the write and the write sees the switch."""
    return _models(conn, "state IN ('serving', 'backfilling')", lock="FOR SHARE" if lock else "")


def first(conn: psycopg.Connection, name: str, dim: int) -> Model:
    """The serving model, registering name when the corpus has none (its vectors in the column if they fit)."""
    with conn.transaction():
        conn.execute("LOCK TABLE embedding_models IN SHARE ROW EXCLUSIVE MODE")
        conn.execute("INSERT INTO embedding_models (name, dim, state, in_column, serving_since)"
                     " SELECT %s, %s, 'serving', %s, now() WHERE NOT EXISTS (SELECT 1 FROM embedding_models)",
                     (name, dim, dim == COLUMN_DIM))
        return serving(conn)


def add(conn: psycopg.Connection, name: str, dim: int) -> Model:
    """Register name as the model to backfill (a retired model comes back with the vectors it kept)."""
    with conn.transaction():
        models = {m.name: m for m in _models(conn, "TRUE", lock="FOR UPDATE")}
        known = models.get(name)
        if known is not None and known.state == "backfilling":
            return known
        if known is not None and known.state == "serving":
            raise ModelChangeError(f"{name} already serves search")
        other = [m.name for m in models.values() if m.state == "backfilling"]
        if other:
            raise ModelChangeError(f"{other[0]} is backfilling: one model change at a time "
                                   "(finish it with `chaffee embeddings backfill`)")
        if known is not None:
            if known.dim != dim:
                raise ModelChangeError(f"{name} was registered with {known.dim} dimensions, now has {dim}")
            conn.execute("UPDATE embedding_models SET state = 'backfilling' WHERE name = %s", (name,))
        else:
            conn.execute("INSERT INTO embedding_models (name, dim, state) VALUES (%s, %s, 'backfilling')", (name, dim))
        return _models(conn, "name = %s", (name,))[0]


def missing(conn: psycopg.Connection, model: Model, *, after: int = 0, limit: int | None = None) -> list[tuple[int, str]]:
    """(segment id, text) of segments without a vector of model, id > after, by id."""
    if model.in_column:
        query = sql.SQL("SELECT id, text FROM segments WHERE embedding IS NULL AND id > %(after)s ORDER BY id {lim}")
    else:
        query = sql.SQL("SELECT g.id, g.text FROM segments g WHERE g.id > %(after)s AND NOT EXISTS"
                        " (SELECT 1 FROM segment_vectors v WHERE v.model = %(m)s AND v.segment_id = g.id)"
                        " ORDER BY g.id {lim}")
    lim = sql.SQL("LIMIT {}").format(sql.Literal(limit)) if limit else sql.SQL("")
    return conn.execute(query.format(lim=lim), {"after": after, "m": model.name}).fetchall()


def put(conn: psycopg.Connection, model: Model, ids: list[int], vectors: np.ndarray) -> int:
    """Store the backfill's vectors of segments by id; a segment replaced meanwhile is skipped. Returns rows."""
    params = {"m": model.name, "ids": ids, "e": [np.asarray(v, np.float32) for v in vectors]}
    if model.in_column:
        cur = conn.execute("UPDATE segments g SET embedding = x.e, embedding_model = %(m)s"
                           " FROM unnest(%(ids)s::bigint[], %(e)s::vector[]) AS x(id, e)"
                           " WHERE g.id = x.id AND g.embedding IS NULL", params)
    else:
        cur = conn.execute("INSERT INTO segment_vectors (model, segment_id, source_id, speaker, embedding)"
                           " SELECT %(m)s, g.id, g.source_id, g.speaker, x.e"
                           " FROM unnest(%(ids)s::bigint[], %(e)s::vector[]) AS x(id, e) JOIN segments g ON g.id = x.id"
                           " ON CONFLICT DO NOTHING", params)
    return cur.rowcount


def write(conn: psycopg.Connection, model: Model, rows: list[tuple[int, int, str, np.ndarray]]) -> None:
    """An ingest's vectors of a side model: (segment id, source id, speaker, vector) rows, one COPY."""
    with conn.cursor().copy("COPY segment_vectors (model, segment_id, source_id, speaker, embedding) FROM STDIN") as copy:
        for segment_id, source_id, speaker, vector in rows:
            copy.write_row((model.name, segment_id, source_id, speaker, vector))


def vectors_of(conn: psycopg.Connection, model: Model, video_id: str) -> np.ndarray:
    """One video's vectors of model, in segment order (n x dim; fewer rows where some are missing)."""
    if model.in_column:
        query = ("SELECT g.embedding FROM segments g JOIN sources s ON s.id = g.source_id"
                 " WHERE s.video_id = %s AND g.embedding IS NOT NULL ORDER BY g.seq")
    else:
        query = ("SELECT v.embedding FROM segment_vectors v JOIN segments g ON g.id = v.segment_id"
                 " JOIN sources s ON s.id = g.source_id WHERE s.video_id = %s AND v.model = %s ORDER BY g.seq")
    rows = conn.execute(query, (video_id, model.name) if not model.in_column else (video_id,)).fetchall()
    return np.stack([r[0].to_numpy() for r in rows]) if rows else np.zeros((0, model.dim), np.float32)


def index_ready(conn: psycopg.Connection, model: Model) -> bool:
    row = conn.execute("SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid"
                       " WHERE c.relname = %s", (model.index,)).fetchone()
    return bool(row and row[0])


def build_index(conn: psycopg.Connection, model: Model, *, m: int = 16, ef_construction: int = 64) -> float:
    """The model's partial HNSW index, built CONCURRENTLY (writes go on meanwhile); seconds taken.
    An invalid index left by an interrupted build is dropped first."""
    if index_ready(conn, model):
        return 0.0
    started = time.perf_counter()
    conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(model.index)))
    conn.execute(sql.SQL(
        "CREATE INDEX CONCURRENTLY {i} ON {t} USING hnsw ({v} vector_cosine_ops)"
        " WITH (m = {m}, ef_construction = {ef}) WHERE {w}").format(
        i=sql.Identifier(model.index), t=model.table, v=model.vector, m=sql.Literal(m),
        ef=sql.Literal(ef_construction), w=model.rows))
    return time.perf_counter() - started


def switch(conn: psycopg.Connection, name: str) -> Model:
    """Make the backfilled model name serve and retire the serving one, in one transaction. The FOR UPDATE
    waits for ingests in flight (they hold the live models FOR SHARE), so no segment committed before the
    switch lacks the new model's vector, and every ingest after it writes that vector."""
    with conn.transaction():
        models = {m.name: m for m in _models(conn, "state IN ('serving', 'backfilling')", lock="FOR UPDATE")}
        new = models.get(name)
        if new is None or new.state != "backfilling":
            raise ModelChangeError(f"{name} is not backfilling (models: "
                                   + (", ".join(f"{m.name} {m.state}" for m in models.values()) or "none") + ")")
        left = len(missing(conn, new, limit=10_001))
        if left:
            raise ModelChangeError(f"{name}: {'over 10000' if left > 10_000 else left} segments have no vector yet;"
                                   " run `chaffee embeddings backfill`")
        if not index_ready(conn, new):
            raise ModelChangeError(f"{name}: its HNSW index {new.index} is not built yet")
        conn.execute("UPDATE embedding_models SET state = 'retired' WHERE state = 'serving'")
        conn.execute("UPDATE embedding_models SET state = 'serving', serving_since = now() WHERE name = %s", (name,))
        return _models(conn, "name = %s", (name,))[0]


def backfill(conn: psycopg.Connection, model: Model, embed: Callable[[list[str]], np.ndarray], *, batch: int = 256,
             progress: Callable[[int, int], None] | None = None) -> int:
    """Give every segment without one a vector of model, batch by batch in id order (each batch committed:
    an interrupted backfill resumes where it stopped). A second pass picks up what the first raced past.
    Returns the vectors written; progress(written, last id) after each batch."""
    written = 0
    for _sweep in range(2):
        after = 0
        while todo := missing(conn, model, after=after, limit=batch):
            ids, texts = [r[0] for r in todo], [r[1] for r in todo]
            try:
                with conn.transaction():
                    written += put(conn, model, ids, embed(texts))
            except psycopg.errors.ForeignKeyViolation:
                continue  # a video was re-ingested under this batch: its old segments are gone, ask again
            after = ids[-1]
            if progress:
                progress(written, after)
    return written


def status(conn: psycopg.Connection) -> list[dict]:
    """Every registered model with its vector count, segments still missing one, and its index's state."""
    total = conn.execute("SELECT count(*) FROM segments").fetchone()[0]
    out = []
    for m in registered(conn):
        have = conn.execute(sql.SQL("SELECT count(*) FROM {t} WHERE {w}").format(t=m.table, w=m.rows)).fetchone()[0]
        out.append({"name": m.name, "dim": m.dim, "state": m.state,
                    "storage": "segments.embedding" if m.in_column else "segment_vectors",
                    "vectors": have, "missing": max(total - have, 0), "index": m.index, "index_ready": index_ready(conn, m)})
    return out
