"""The Searcher on a real embedded Postgres with the bundled embedder: hybrid ranks, filters, context, links,
highlights, paging, and filtered queries that keep their k rows."""

from __future__ import annotations

from datetime import date

import pytest

from chaffee_assets.search import retrieve
from chaffee_assets.search.request import BadRequest, checked
from chaffee_assets.search.service import IndexOptions, Searcher, one_model
from chaffee_assets.store.embedding_models import serving

OXALATE = "Oxalates in spinach can form kidney stones when they bind with calcium."


def test_hybrid_ranks_the_answer_first_and_marks_the_words(searcher, corpus):
    page = searcher.search(checked("can spinach give me kidney stones", k=5, mode="hybrid"))
    top = page["hits"][0]
    assert OXALATE in top["text"] and set(top["ranks"]) == {"vector", "lexical"}
    words = {top["text"][a:b].lower() for a, b in top["highlights"]}
    assert {"spinach", "kidney", "stones"} <= words
    assert top["url"].startswith("https://www.youtube.com/watch?v=") and top["url"].endswith(f"&t={int(top['start_s'])}s")


def test_a_rare_term_is_found_by_its_spelling(searcher, corpus):
    for mode in ("lexical", "hybrid"):
        hit = searcher.search(checked("glucosinolates", k=3, mode=mode))["hits"][0]
        assert "glucosinolates" in hit["text"].lower()


def test_context_is_the_neighbouring_segments_in_order(searcher, corpus, conn):
    hit = searcher.search(checked("what is the keto flu", k=1, context=2))["hits"][0]
    source_id = conn.execute("SELECT id FROM sources WHERE video_id = %s", (hit["video_id"],)).fetchone()[0]
    stored = [r[0] for r in conn.execute(
        "SELECT text FROM segments WHERE source_id = %s AND seq BETWEEN %s AND %s ORDER BY seq",
        (source_id, hit["seq"] - 2, hit["seq"] + 2))]
    around = [n["text"] for n in hit["context"]["before"]] + [hit["text"]] + [n["text"] for n in hit["context"]["after"]]
    assert around == stored


def test_filters_speaker_video_and_dates(searcher, corpus):
    for h in searcher.search(checked("what do you eat", k=10, speaker="guest"))["hits"]:
        assert h["speaker"] == "GUEST"
    video = "talk-101-003"
    assert {h["video_id"] for h in searcher.search(checked("insulin", k=10, video=video))["hits"]} == {video}
    since, until = date(2018, 2, 1), date(2018, 4, 1)
    hits = searcher.search(checked("insulin and fat", k=10, since=since, until=until))["hits"]
    assert hits and all(since.isoformat() <= h["published_at"] <= until.isoformat() for h in hits)


def test_unknown_speaker_and_video_are_named(searcher, corpus):
    with pytest.raises(BadRequest) as caught:
        searcher.search(checked("ketosis", speaker="nobody-at-all"))
    assert caught.value.field == "speaker" and "known speakers" in caught.value.message
    with pytest.raises(BadRequest) as caught:
        searcher.search(checked("ketosis", video="no-such-video"))
    assert caught.value.field == "video"


def test_pages_follow_each_other(searcher, corpus):
    first = searcher.search(checked("sleep and insulin", k=5, page=1))
    second = searcher.search(checked("sleep and insulin", k=5, page=2))
    both = searcher.search(checked("sleep and insulin", k=10, page=1))
    assert first["more"] and [h["segment_id"] for h in first["hits"] + second["hits"]] == [
        h["segment_id"] for h in both["hits"]]


def test_sql_in_the_query_is_searched_as_words(searcher, corpus, conn):
    before = conn.execute("SELECT count(*) FROM segments").fetchone()[0]
    for text in ["'; DROP TABLE segments; --", "x\\' OR 1=1 --", "\"unclosed quote -minus OR", "back\\slash 'q' &|!<->:*"]:
        for mode in ("hybrid", "lexical"):
            searcher.search(checked(text, mode=mode))
    assert conn.execute("SELECT count(*) FROM segments").fetchone()[0] == before


def test_a_filtered_query_keeps_its_k_rows_when_the_index_falls_short(corpus, embedder, conn):
    """A tiny candidate list and no iterative scan: HNSW alone finds none or few of the rows of a video on
    other subjects; the exact scan of the filtered set answers, in the exact order."""
    from chaffee_assets.store import db
    from chaffee_assets.settings import get_settings

    narrow = Searcher(db.database_url(get_settings()), one_model(embedder),
                      options=IndexOptions(ef_search=10, iterative_scan="off", candidates=10, exact_rows=0))
    try:
        video = "talk-101-002"  # a talk on other subjects (bees, ships): far from the question
        rows = conn.execute("SELECT count(*) FROM segments g JOIN sources s ON s.id = g.source_id"
                            " WHERE s.video_id = %s", (video,)).fetchone()[0]
        vector = embedder.embed(["insulin resistance and type two diabetes"])[0]
        with narrow.connection() as c:
            for plan in ("seqscan", "bitmapscan", "sort"):  # a table this small would be scanned, not indexed
                c.execute(f"SET enable_{plan} = off")
            filters = narrow.filters(c, checked("x", video=video))
            index_only = retrieve.nearest(c, serving(c), vector, 10, filters)
            exact = retrieve.nearest(c, serving(c), vector, 10, filters, exact=True)
            plan = "\n".join(r[0] for r in c.execute(
                retrieve.sql.SQL("EXPLAIN SELECT id FROM segments WHERE {w} ORDER BY embedding <=> %s LIMIT 10").format(
                    w=filters.where()), (vector,)))
            assert "segments_embedding_hnsw" in plan, plan
        page = narrow.search(checked("insulin resistance and type two diabetes", k=min(rows, 10), mode="vector", video=video))
        assert len(index_only) < min(rows, 10) <= len(page["hits"])  # the index alone fell short
        assert [h["segment_id"] for h in page["hits"]] == [i for i, _ in exact][:len(page["hits"])]
    finally:
        narrow.close()


def test_common_words_are_not_ranked_on(corpus, conn):
    """rare_words_tsquery keeps the rarest words while their estimated matches fit the budget."""
    conn.execute("ANALYZE segments")
    lexemes, freqs, total = conn.execute(
        "SELECT most_common_elems::text::text[], most_common_elem_freqs, (SELECT reltuples FROM pg_class"
        " WHERE relname = 'segments') FROM pg_stats WHERE tablename = 'segments' AND attname = 'tsv'").fetchone()
    insulin, unseen = freqs[lexemes.index("insulin")] * total, freqs[len(lexemes)] * total  # rarest listed
    assert insulin > unseen
    rare = "SELECT rare_words_tsquery('insulin zzqxv', %s)::text"
    assert conn.execute(rare, (1e9,)).fetchone()[0] == "'zzqxv' | 'insulin'"
    assert conn.execute(rare, (unseen + 0.5,)).fetchone()[0] == "'zzqxv'"
    assert conn.execute(rare, (unseen / 2,)).fetchone()[0] is None
    assert retrieve.query_words(conn, "insulin zzqxv") == ("'zzqxv' | 'insulin'", "rare")


def test_hybrid_searches_at_once_give_the_pages_of_one_at_a_time(corpus, embedder):
    """Each hybrid search holds two connections (its lexical list on the second); twelve searches from twelve
    threads on a pool of two neither deadlock nor mix their lists up."""
    from concurrent.futures import ThreadPoolExecutor

    from chaffee_assets.settings import get_settings
    from chaffee_assets.store import db

    texts = ["can spinach give me kidney stones", "glucosinolates", "sleep and insulin", "grass fed or grain fed beef",
             "what is the keto flu", "seed oils and inflammation"] * 2
    busy = Searcher(db.database_url(get_settings()), one_model(embedder), pool_size=2)
    try:
        alone = [busy.search(checked(t, k=5, mode="hybrid")) for t in texts]
        with ThreadPoolExecutor(12) as pool:
            together = list(pool.map(lambda t: busy.search(checked(t, k=5, mode="hybrid")), texts))
        assert together == alone and all(page["hits"] for page in alone)
        assert busy._idle.qsize() <= 4  # never more than two connections per search allowed at once
    finally:
        busy.close()


def test_a_narrow_filter_is_answered_by_the_exact_scan(searcher, corpus, embedder, conn):
    """A video's few segments (under exact_rows): the vector list is the exact order of the filtered set."""
    text, video = "insulin resistance and type two diabetes", "talk-101-003"
    page = searcher.search(checked(text, k=10, mode="vector", video=video))
    filters = searcher.filters(conn, checked(text, video=video))
    exact = retrieve.nearest(conn, serving(conn), embedder.embed([text])[0], 10, filters, exact=True)
    assert [h["segment_id"] for h in page["hits"]] == [i for i, _ in exact] and len(exact) >= 3


def test_when_every_word_is_common_the_rarest_four_are_required(corpus, conn):
    conn.execute("ANALYZE segments")
    words = dict(conn.execute("SELECT word, rows FROM word_estimates('insulin diet sleep fat ketosis glucosinolates')"))
    rarest = sorted(words, key=lambda w: (words[w], w))[:4]
    query = conn.execute("SELECT rarest_words_tsquery('insulin diet sleep fat ketosis glucosinolates', 4)::text").fetchone()[0]
    assert sorted(query.replace("'", "").split(" & ")) == sorted(rarest)
    assert retrieve.query_words(conn, "insulin diet sleep fat ketosis glucosinolates")[0] is not None


def test_when_every_word_is_common_hybrid_ranks_its_vector_candidates_by_them(searcher, corpus, embedder, conn,
                                                                           monkeypatch):
    """A ranking budget this small makes every word common, as most are at 1 M segments of the bench: the
    hybrid's lexical list is then its vector candidates that hold the words, by ts_rank_cd (no GIN AND)."""
    from chaffee_assets.search.fuse import reciprocal_rank

    text = "can spinach give me kidney stones"
    monkeypatch.setattr(retrieve, "RANK_BUDGET", 0.5)
    assert retrieve.query_words(conn, text)[1] == "common"
    assert retrieve.matching(conn, text, 50, skip_common=True) is None
    page = searcher.search(checked(text, k=10, mode="hybrid"))
    vec = [i for i, _ in retrieve.nearest(conn, serving(conn), embedder.embed([text])[0], 50)]
    lexical = retrieve.among(conn, vec, text)
    assert lexical and {i for i, _ in lexical} <= set(vec)
    assert all(any(w in t for w in ("spinach", "giv", "kidney", "stone"))  # "can" and "me" are stop words
               for t in (r[0].lower() for r in conn.execute("SELECT text FROM segments WHERE id = ANY(%s)",
                                                            ([i for i, _ in lexical],))))
    expected = reciprocal_rank({"vector": vec, "lexical": [i for i, _ in lexical]})[:10]
    assert [h["segment_id"] for h in page["hits"]] == [i for i, _, _ in expected]
