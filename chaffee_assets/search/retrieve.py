"""Ranked candidates from Postgres: HNSW cosine (pgvector), full text (GIN, English stemming), and the hits'
details (video, deep link, highlights, neighbouring segments). Fusion lives in fuse.py; SQL stays here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import psycopg
from psycopg import sql

from chaffee_assets.store.embedding_models import Model
from chaffee_assets.store.segments import link

START, STOP = "\x02", "\x03"  # ts_headline's marks: control characters, which no stored text or query holds
HEADLINE = f"StartSel={START}, StopSel={STOP}, HighlightAll=true"


@dataclass(frozen=True)
class Filters:
    """speaker: any case. source_ids: the videos allowed (None: all), already resolved from video and dates."""

    speaker: str | None = None
    source_ids: tuple[int, ...] | None = None

    def where(self) -> sql.Composable:
        parts = [sql.SQL("TRUE")]
        if self.speaker is not None:
            parts.append(sql.SQL("lower(speaker) = lower({})").format(sql.Literal(self.speaker)))
        if self.source_ids is not None:
            parts.append(sql.SQL("source_id = ANY({}::bigint[])").format(sql.Literal(list(self.source_ids))))
        return sql.SQL(" AND ").join(parts)


NONE = Filters()


RANK_BUDGET = 1000  # segments a query ranks: the estimates of 003 rare_words_tsquery, else a LIMIT
AND_WORDS = 4  # when every word is common: segments with all of the rarest four (004 rarest_words_tsquery)


def has_syntax(text: str) -> bool:
    """Quotes, OR between words or a -word: the user wrote web-search syntax, websearch_to_tsquery reads it."""
    words = text.split()
    return '"' in text or any(w.lower() == "or" for w in words[1:-1]) or any(w.startswith("-") for w in words)


def query_words(conn: psycopg.Connection, text: str) -> tuple[str | None, str]:
    """(tsquery text, kind). kind 'syntax': web-search syntax as written, ranked over a capped set (at 1 M
    segments an OR of common words holds a large share of the table). 'rare': any of the words not too common
    to rank on (003 rare_words_tsquery). 'common': every word is, so the AND_WORDS rarest together, ranked
    over a capped set."""
    if has_syntax(text):
        words = conn.execute("SELECT websearch_to_tsquery('english', %s)::text", (text,)).fetchone()[0]
        return words or None, "syntax"
    rare, every = conn.execute("SELECT rare_words_tsquery(%s, %s)::text, rarest_words_tsquery(%s, %s)::text",
                               (text, RANK_BUDGET, text, AND_WORDS)).fetchone()
    return (rare, "rare") if rare else (every or None, "common")


def source_ids(conn: psycopg.Connection, video: str | None, since: date | None, until: date | None) -> tuple[int, ...] | None:
    """The sources a video / publication-date filter allows; None when there is no such filter."""
    if video is None and since is None and until is None:
        return None
    lo = datetime.combine(since, time.min, timezone.utc) if since else None
    hi = datetime.combine(until + timedelta(days=1), time.min, timezone.utc) if until else None
    rows = conn.execute(
        "SELECT id FROM sources WHERE (%(v)s::text IS NULL OR video_id = %(v)s)"
        " AND (%(lo)s::timestamptz IS NULL OR published_at >= %(lo)s)"
        " AND (%(hi)s::timestamptz IS NULL OR published_at < %(hi)s) ORDER BY id",
        {"v": video, "lo": lo, "hi": hi}).fetchall()
    return tuple(r[0] for r in rows)


def nearest(conn: psycopg.Connection, model: Model, vector: np.ndarray, n: int, filters: Filters = NONE, *,
            exact: bool = False) -> list[tuple[int, float]]:
    """(segment id, cosine distance) under the serving model's vectors, nearest first. HNSW unless exact (a
    sequential scan, the reference). Under hnsw.iterative_scan = relaxed_order the index may return slightly out
    of order: re-sorted here."""
    order = sql.SQL("({v} <=> %(q)s) + 0" if exact else "{v} <=> %(q)s").format(v=model.vector)
    query = sql.SQL(
        "WITH c AS MATERIALIZED (SELECT {id} AS id, {v} <=> %(q)s AS d FROM {t} WHERE {m} AND {w} ORDER BY {o}"
        " LIMIT %(n)s) SELECT id, d FROM c ORDER BY d, id").format(
        id=model.id_column, v=model.vector, t=model.table, m=model.scope, w=filters.where(), o=order)
    return conn.execute(query, {"q": np.asarray(vector, dtype=np.float32), "n": n}).fetchall()


def matching(conn: psycopg.Connection, text: str, n: int, filters: Filters = NONE, *, uncapped: bool = False,
             skip_common: bool = False) -> list[tuple[int, float]] | None:
    """(segment id, ts_rank_cd normalised by log length), best first; only segments with the query's words.
    The tsquery is worked out first, once: inside the ranking statement it would be evaluated per row.
    uncapped: rank every segment the tsquery matches (the bench's reference for what the cap costs).
    skip_common: None when every word is common (the hybrid ranks its vector candidates by them instead, see
    among: a GIN AND has no early exit, it builds the bitmap of every segment holding all the words)."""
    words, kind = query_words(conn, text)
    if kind == "common" and skip_common:
        return None
    if not words:
        return []
    t, w = sql.Literal(words), filters.where()
    rows = sql.SQL("(SELECT id, tsv FROM segments WHERE tsv @@ {t}::tsquery AND {w}{cap}) AS matched").format(
        t=t, w=w, cap=sql.SQL(f" LIMIT {RANK_BUDGET}" if kind != "rare" and not uncapped else ""))
    query = sql.SQL("SELECT id, ts_rank_cd(tsv, {t}::tsquery, 1) AS r FROM {rows} ORDER BY r DESC, id LIMIT %(n)s")
    return conn.execute(query.format(t=t, rows=rows), {"n": n}).fetchall()


def among(conn: psycopg.Connection, ids: list[int], text: str) -> list[tuple[int, float]]:
    """The lexical list of a hybrid search whose every word is common: those of the candidates (segment ids)
    holding any of the words, by the same ts_rank_cd, best first."""
    if not ids:
        return []
    return conn.execute(
        "SELECT g.id, ts_rank_cd(g.tsv, q.q, 1) AS r FROM segments g, (SELECT any_words_tsquery(%(t)s) AS q) q"
        " WHERE g.id = ANY(%(ids)s) AND g.tsv @@ q.q ORDER BY r DESC, g.id", {"t": text, "ids": ids}).fetchall()


def count(conn: psycopg.Connection, filters: Filters, cap: int) -> int:
    """How many segments the filters allow, counted up to cap."""
    query = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM segments WHERE {w} LIMIT %(cap)s) x").format(w=filters.where())
    return conn.execute(query, {"cap": cap}).fetchone()[0]


def marks(headline: str) -> tuple[str, list[list[int]]]:
    """ts_headline's output with marks -> (plain text, [[start, end], ...] character spans to highlight)."""
    plain, spans, at = [], [], 0
    for ch in headline:
        if ch == START:
            spans.append([at, at])
        elif ch == STOP and spans:
            spans[-1][1] = at
        else:
            plain.append(ch)
            at += 1
    return "".join(plain), [s for s in spans if s[1] > s[0]]


def details(conn: psycopg.Connection, ids: list[int], text: str, context: int) -> dict[int, dict]:
    """{segment id: hit without score}: video, times, speaker, text, highlights, deep link, neighbours."""
    if not ids:
        return {}
    query = sql.SQL(
        "SELECT g.id, s.video_id, s.title, s.source_type, s.url, s.published_at, g.seq, g.start_s, g.end_s,"
        " g.speaker, g.text, ts_headline('english', g.text, coalesce(any_words_tsquery({t}), ''::tsquery), %(opts)s)"
        " FROM segments g JOIN sources s ON s.id = g.source_id WHERE g.id = ANY(%(ids)s)").format(t=sql.Literal(text))
    found = {}
    for sid, vid, title, kind, url, published, seq, start, end, spk, body, headline in conn.execute(
            query, {"ids": ids, "opts": HEADLINE}):
        plain, spans = marks(headline)
        found[sid] = {"segment_id": sid, "video_id": vid, "start_s": round(start, 2), "end_s": round(end, 2), "speaker": spk,
                      "text": body, "url": link(kind, url, start), "title": title,
                      "published_at": published.date().isoformat() if published else None, "seq": seq,
                      "highlights": spans if plain == body else [], "context": {"before": [], "after": []}}
    if context:
        for hit_id, seq, n_seq, start, end, spk, body in conn.execute(
            "SELECT h.id, h.seq, n.seq, n.start_s, n.end_s, n.speaker, n.text FROM segments h"
            " JOIN segments n ON n.source_id = h.source_id AND n.seq BETWEEN h.seq - %(c)s AND h.seq + %(c)s"
            " WHERE h.id = ANY(%(ids)s) AND n.seq <> h.seq ORDER BY h.id, n.seq", {"ids": ids, "c": context}):
            side = "before" if n_seq < seq else "after"
            found[hit_id]["context"][side].append(
                {"start_s": round(start, 2), "end_s": round(end, 2), "speaker": spk, "text": body})
    return found
