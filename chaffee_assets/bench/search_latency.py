"""Latency and recall of the Searcher on a bench corpus (search_scale.py): p50/p99 of whole top-k searches
(candidates, fusion, details with highlights and context; the query vector precomputed, its embedding timed
apart), and recall@k against exact cosine top-k computed in numpy under the same filters."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import numpy as np

from chaffee_assets.search import retrieve
from chaffee_assets.search.fuse import reciprocal_rank
from chaffee_assets.search.request import checked

EPOCH = datetime(2016, 1, 1, tzinfo=timezone.utc)  # search_scale.load: video v published EPOCH + 17 h * v
HOURS_PER_VIDEO = 17


def date_range(share: float, videos: int) -> tuple[date, date]:
    """since/until covering about `share` of the videos, from the first one."""
    last = max(0, int(share * videos) - 1)
    return EPOCH.date(), (EPOCH + timedelta(hours=HOURS_PER_VIDEO * last)).date()


def allowed(corpus, until: date | None) -> np.ndarray | None:
    """Row mask of the filter, by the same day arithmetic as the SQL (published date <= until)."""
    if until is None:
        return None
    published = [(EPOCH + timedelta(hours=HOURS_PER_VIDEO * v)).date() <= until for v in range(corpus.videos)]
    return np.asarray(published)[corpus.video]


def exact_ids(corpus, vector: np.ndarray, n: int, mask: np.ndarray | None) -> list[int]:
    sims = corpus.vectors @ vector
    if mask is not None:
        sims = np.where(mask, sims, -np.inf)
    top = np.argpartition(-sims, n)[:n]
    top = top[np.argsort(-sims[top], kind="stable")]
    return [int(i) + 1 for i in top if np.isfinite(sims[i])]


def percentiles(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "max_ms": round(float(ms.max()), 2)}


def run_mode(searcher, corpus, queries, mode: str, k: int, until: date | None = None, since: date | None = None) -> dict:
    """One mode over every query: latency, rows returned, recall@k of vector/hybrid against exact."""
    mask = allowed(corpus, until)
    expected_rows = min(k, int(mask.sum()) if mask is not None else len(corpus.texts))
    times, recalls, short = [], [], 0
    for text, vector in queries:
        req = checked(text, k=k, mode=mode, since=since, until=until, context=1)
        started = time.perf_counter()
        page = searcher.search(req, vector=vector)
        times.append(time.perf_counter() - started)
        got = [h["segment_id"] for h in page["hits"]]
        short += len(got) < expected_rows
        if mode == "vector":
            truth = exact_ids(corpus, vector, k, mask)
        elif mode == "hybrid":
            truth = exact_hybrid(searcher, corpus, text, vector, k, mask, until)
        else:
            continue
        recalls.append(len(set(got) & set(truth)) / max(1, len(truth)))
    out = {"mode": mode, "queries": len(queries), **percentiles(times),
           "share": round(float(mask.mean()), 4) if mask is not None else 1.0,
           # pages with fewer than k hits although k segments pass the filter (lexical: fewer k segments hold a word)
           "short_pages": short}
    if recalls:
        out[f"recall@{k}"] = round(float(np.mean(recalls)), 4)
    return out


def exact_hybrid(searcher, corpus, text, vector, k, mask, until) -> list[int]:
    """The hybrid top-k had the vector list been exact: the same lexical list (or, every word common, the exact
    candidates ranked by the words), fused the same way."""
    depth = max(k, searcher.options.candidates)
    with searcher.connection() as conn:
        ids = retrieve.source_ids(conn, None, None, until)
        lexical = retrieve.matching(conn, text, depth, retrieve.Filters(None, ids), skip_common=True)
        exact = exact_ids(corpus, vector, depth, mask)
        if lexical is None:  # every word common: the exact candidates ranked by them, as the search does
            lexical = retrieve.among(conn, exact, text)
    fused = reciprocal_rank({"vector": exact, "lexical": [i for i, _ in lexical]})
    return [i for i, _, _ in fused[:k]]


def lexical_cap_recall(searcher, queries, k: int) -> dict:
    """What RANK_BUDGET costs: recall@k of the lexical list against ranking every segment its tsquery matches
    (the same tsquery, no LIMIT), and how many queries were capped."""
    recalls, capped = [], 0
    with searcher.connection() as conn:
        for text, _ in queries:
            capped += retrieve.query_words(conn, text)[1] != "rare"
            got = {i for i, _ in retrieve.matching(conn, text, k)}
            every = {i for i, _ in retrieve.matching(conn, text, k, uncapped=True)}
            recalls.append(len(got & every) / len(every) if every else 1.0)
    return {"queries": len(queries), "capped": capped, f"recall@{k}": round(float(np.mean(recalls)), 4),
            "rank_budget": retrieve.RANK_BUDGET}


def word_kinds(searcher, texts: list[str]) -> dict[str, int]:
    """How many queries take each lexical path (retrieve.query_words): rare words, every word common, syntax."""
    kinds: dict[str, int] = {}
    with searcher.connection() as conn:
        for text in texts:
            kind = retrieve.query_words(conn, text)[1]
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds
