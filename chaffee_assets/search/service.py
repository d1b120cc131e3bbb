"""The search the CLI and the HTTP API share: a checked request in, a page of hits with context out."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import psycopg

from chaffee_assets.search import retrieve
from chaffee_assets.search.fuse import reciprocal_rank
from chaffee_assets.search.request import BadRequest, SearchRequest
from chaffee_assets.store import db, embedding_models
from chaffee_assets.store.embedding_models import Model


@dataclass(frozen=True)
class IndexOptions:
    """Attributes:
        ef_search: HNSW candidate list per query (pgvector's hnsw.ef_search); at least the candidates asked.
        iterative_scan: pgvector >= 0.8 keeps scanning the graph until a filtered query has its rows.
        max_scan_tuples: where an iterative scan gives up; then the exact scan of the filtered set answers.
        candidates: how deep each list goes before fusion (and at least offset + k).
        exact_rows: a filter leaving at most this many segments is answered by the exact scan (bench-search:
            at 1 M segments a 1% date filter took 62 ms p50 through the iterative index scan).
    """

    ef_search: int = 100
    iterative_scan: str = "relaxed_order"
    max_scan_tuples: int = 20_000
    candidates: int = 50
    exact_rows: int = 20_000


def configure(conn: psycopg.Connection, options: IndexOptions) -> None:
    conn.execute(f"SET hnsw.ef_search = {int(options.ef_search)}")
    conn.execute(f"SET hnsw.iterative_scan = {options.iterative_scan}")
    conn.execute(f"SET hnsw.max_scan_tuples = {int(options.max_scan_tuples)}")


class Searcher:
    """Holds the text embedder (loaded once) and a few open connections; thread-safe. A hybrid search runs its
    lexical list on a second connection while the vector list runs on the first: two server processes, two
    cores, so the search waits for the slower list instead of both in turn."""

    def __init__(self, url: str, embed: Callable[[str, list[str]], np.ndarray], *, options: IndexOptions = IndexOptions(),
                 pool_size: int = 4) -> None:
        """embed(model name, texts): query vectors of the model that serves at the time of the query."""
        self.url, self.embed, self.options = url, embed, options
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        # a hybrid search holds two connections; at most pool_size searches, so 2 x pool_size slots
        self._slots = threading.BoundedSemaphore(2 * pool_size)
        self._searches = threading.BoundedSemaphore(pool_size)
        self._lexical = ThreadPoolExecutor(pool_size, thread_name_prefix="lexical")
        self._speakers: tuple[float, list[str]] = (0.0, [])

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = db.connect(self.url)
                configure(conn, self.options)
            try:
                yield conn
            except (psycopg.OperationalError, psycopg.InterfaceError):
                conn.close()
                raise
            else:
                self._idle.put(conn)

    def close(self) -> None:
        self._lexical.shutdown(wait=True)
        while not self._idle.empty():
            self._idle.get_nowait().close()

    def speakers(self, conn: psycopg.Connection) -> list[str]:
        """The stored speakers, re-read at most once a minute."""
        read_at, names = self._speakers
        if time.monotonic() - read_at > 60:
            names = [r[0] for r in conn.execute("SELECT DISTINCT speaker FROM segments ORDER BY 1")]
            self._speakers = (time.monotonic(), names)
        return names

    def filters(self, conn: psycopg.Connection, req: SearchRequest) -> retrieve.Filters:
        """The request's filters, or BadRequest for a speaker or video the corpus does not have."""
        if req.speaker is not None and not conn.execute(
                "SELECT EXISTS (SELECT 1 FROM segments WHERE lower(speaker) = lower(%s))", (req.speaker,)).fetchone()[0]:
            known = ", ".join(self.speakers(conn)[:20]) or "none yet"
            raise BadRequest("speaker", f"no segments by {req.speaker[:40]!r}; known speakers: {known}")
        if req.video is not None and conn.execute(
                "SELECT 1 FROM sources WHERE video_id = %s", (req.video,)).fetchone() is None:
            raise BadRequest("video", f"no video {req.video[:40]!r} in the corpus")
        return retrieve.Filters(req.speaker, retrieve.source_ids(conn, req.video, req.since, req.until))

    def nearest(self, conn: psycopg.Connection, model: Model, vector: np.ndarray, n: int,
                filters: retrieve.Filters) -> list[tuple[int, float]]:
        """HNSW, or the exact scan of the filtered set when a filter leaves at most exact_rows segments (the
        graph walk would pass ~1 / selectivity nodes per hit kept). When a filter leaves the index scan short
        of n rows that exist, the exact scan answers too: a filtered query returns its k rows whenever k exist."""
        if filters != retrieve.NONE and retrieve.count(conn, filters, self.options.exact_rows + 1) <= self.options.exact_rows:
            return retrieve.nearest(conn, model, vector, n, filters, exact=True)
        found = retrieve.nearest(conn, model, vector, n, filters)
        if len(found) < n and filters != retrieve.NONE and retrieve.count(conn, filters, n) > len(found):
            found = retrieve.nearest(conn, model, vector, n, filters, exact=True)
        return found

    def search(self, req: SearchRequest, vector: np.ndarray | None = None) -> dict:
        """{"query", "mode", "model", "k", "page", "more", "hits": [...]}; each hit carries score, the ranks it got
        from each list, highlights (character spans of text), the deep link and its neighbouring segments.
        The serving model is read per search: a model switch applies from the next query on.
        vector: the query's embedding by the serving model when the caller has it (the bench)."""
        depth = max(req.offset + req.k, self.options.candidates)
        with self._searches, self.connection() as conn:
            filters = self.filters(conn, req)
            model = embedding_models.serving(conn)
            if filters.source_ids == ():
                ranked = []
            else:
                ranked = self.rank(conn, req, model, vector, depth, filters)
            page = ranked[req.offset:req.offset + req.k]
            found = retrieve.details(conn, [item[0] for item in page], req.text, req.context)
        hits = [{**found[sid], "score": round(score, 6), "ranks": ranks} for sid, score, ranks in page if sid in found]
        return {"query": req.text, "mode": req.mode, "model": model.name if model else None, "k": req.k,
                "page": req.offset // req.k + 1, "more": len(ranked) > req.offset + req.k, "hits": hits}

    def matching(self, text: str, depth: int, filters: retrieve.Filters) -> list[tuple[int, float]] | None:
        """The hybrid's lexical list; None when every word is common (rank then ranks the vector candidates)."""
        with self.connection() as conn:
            return retrieve.matching(conn, text, depth, filters, skip_common=True)

    def rank(self, conn, req: SearchRequest, model: Model | None, vector, depth: int, filters) -> list[tuple[int, float, dict]]:
        """Hybrid: the lexical list on its own connection while the query is embedded and the vector list runs;
        when every word is common, the vector candidates ranked by those words (retrieve.among). No serving
        model (nothing stored yet): no vector list."""
        pending = self._lexical.submit(self.matching, req.text, depth, filters) if req.mode == "hybrid" else None
        vec = []
        if req.mode != "lexical" and model is not None:
            if vector is None:
                vector = self.embed(model.name, [req.text])[0]
            if len(vector) != model.dim:
                raise ValueError(f"a {len(vector)}-dimensional query vector for {model.name} ({model.dim})")
            vec = self.nearest(conn, model, vector, depth, filters)
        if pending is not None:
            lex = pending.result()
            if lex is None:
                lex = retrieve.among(conn, [s for s, _ in vec], req.text)
        else:
            lex = retrieve.matching(conn, req.text, depth, filters) if req.mode == "lexical" else []
        if req.mode == "vector":
            return [(sid, 1.0 - d, {"vector": i}) for i, (sid, d) in enumerate(vec, 1)]
        if req.mode == "lexical":
            return [(sid, r, {"lexical": i}) for i, (sid, r) in enumerate(lex, 1)]
        return reciprocal_rank({"vector": [s for s, _ in vec], "lexical": [s for s, _ in lex]})


def one_model(embedder) -> Callable[[str, list[str]], np.ndarray]:
    """A Searcher's embed from one loaded TextEmbedder: a query for any other serving model is an error
    (never a vector of the wrong model)."""
    def embed(model: str, texts: list[str]) -> np.ndarray:
        if model != embedder.model_name:
            raise LookupError(f"the corpus is served by {model}; this searcher has only {embedder.model_name}")
        return embedder.embed(texts)
    return embed
