"""The scale bench end to end: build, load, index (timed, memory sampled), then latency and recall per mode,
per ef_search and per filter selectivity. Returns the report `chaffee bench-search` writes."""

from __future__ import annotations

import os
import platform
import random
import time


from chaffee_assets.bench import search_corpus, search_latency, search_quality, search_scale
from chaffee_assets.search.service import IndexOptions, Searcher, one_model


def query_set(count: int, seed: int) -> list[str]:
    """The question set's questions and the interviewers' questions, then short phrases of the grammar's words."""
    synth, stress = search_corpus.script("synth_corpus"), search_corpus.script("stress_corpus")
    texts = [q["q"] for q in search_quality.load_questions()] + [q for _, q in synth.QUESTIONS]
    rng = random.Random(seed)
    while len(texts) < count:
        texts.append(f"{rng.choice(stress.SUBJECTS)} {rng.choice(stress.VERBS)} {rng.choice(stress.OBJECTS)}")
    return texts[:count]


def build_indexes(conn, m: int, ef_construction: int, log) -> dict:
    conn.execute("SET maintenance_work_mem = '4GB'")
    conn.execute("SET max_parallel_maintenance_workers = 1")  # leader + 1 worker: the box's two cores
    gin = search_scale.timed_build(conn, "CREATE INDEX segments_tsv_gin ON segments USING gin (tsv)")
    log(f"GIN: {gin}")
    hnsw = search_scale.timed_build(
        conn, f"CREATE INDEX segments_embedding_hnsw ON segments USING hnsw (embedding vector_cosine_ops)"
              f" WITH (m = {int(m)}, ef_construction = {int(ef_construction)})")
    log(f"HNSW: {hnsw}")
    conn.execute("VACUUM ANALYZE segments")
    sizes = dict(conn.execute(
        "SELECT relname, pg_relation_size(oid) / 1048576 FROM pg_class WHERE relname IN"
        " ('segments', 'segments_tsv_gin', 'segments_embedding_hnsw')").fetchall())
    return {"gin": gin, "hnsw": hnsw, "size_mib": sizes, "m": m, "ef_construction": ef_construction}


def loaded(conn, segments: int) -> bool:
    """The scratch table already holds this corpus with both indexes (a rerun after a crash: --reuse)."""
    rows = conn.execute("SELECT count(*) FROM segments").fetchone()[0]
    names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'segments'")}
    return rows == segments and {"segments_tsv_gin", "segments_embedding_hnsw"} <= names


def run(conn, url: str, embedder, *, segments: int, pool: int, m: int, ef_construction: int,
        ef_sweep: list[int], queries: int, reuse: bool = False, cache=None, log=print, save=lambda report: None,
        lexical_reference: int = 50) -> dict:
    started = time.perf_counter()
    corpus = search_scale.build(segments, embedder.embed, pool=pool, cache=cache)  # deterministic: reruns agree
    built_s = time.perf_counter() - started
    log(f"corpus: {segments} segments in {corpus.videos} videos, {built_s:.0f} s")
    report = {"corpus": {"segments": segments, "videos": corpus.videos, "sentence_pool": pool, "noise_sigma": 0.015,
                         "build_s": round(built_s, 1)}}
    if reuse and loaded(conn, segments):
        log("reusing the loaded table and its indexes")
        report["indexes"] = {"reused": True, "m": m, "ef_construction": ef_construction}
    else:
        report["corpus"]["copy_s"] = round(search_scale.load(conn, corpus), 1)
        log(f"COPY: {report['corpus']['copy_s']:.0f} s")
        save(report)
        report["indexes"] = build_indexes(conn, m, ef_construction, log)
    save(report)
    indexes = report["indexes"]
    texts = query_set(queries, seed=3)
    t0 = time.perf_counter()
    vectors = [embedder.embed([t])[0] for t in texts]
    embed_ms = (time.perf_counter() - t0) / len(texts) * 1000
    qs = list(zip(texts, vectors))
    sweep = []
    for ef in ef_sweep:
        searcher = Searcher(url, one_model(embedder), options=IndexOptions(ef_search=ef))
        for mode in ("vector", "hybrid"):
            row = {"ef_search": ef, **search_latency.run_mode(searcher, corpus, qs, mode, 10)}
            log(row)
            sweep.append(row)
        searcher.close()
        save({**report, "ef_sweep": sweep})
    chosen = next((r["ef_search"] for r in sweep if r["mode"] == "hybrid" and r["recall@10"] >= 0.95
                   and next(v for v in sweep if v["mode"] == "vector" and v["ef_search"] == r["ef_search"])["recall@10"] >= 0.95),
                  ef_sweep[-1])
    searcher = Searcher(url, one_model(embedder), options=IndexOptions(ef_search=chosen))
    lexical = search_latency.run_mode(searcher, corpus, qs, "lexical", 10)
    lexical["against_uncapped"] = search_latency.lexical_cap_recall(searcher, qs[:lexical_reference], 10)
    lexical["word_kinds"] = search_latency.word_kinds(searcher, texts)
    log(lexical)
    filtered = []
    for share in (0.01, 0.10, 0.50, 1 / corpus.videos):
        since, until = search_latency.date_range(share, corpus.videos)
        for mode in ("vector", "hybrid", "lexical"):
            row = {"selectivity": round(share, 5), "until": until.isoformat(),
                   **search_latency.run_mode(searcher, corpus, qs, mode, 10, until=until, since=since)}
            log(row)
            filtered.append(row)
    searcher.close()
    return {**report, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                  "load_average_1_5_15": os.getloadavg()},  # other work on the box while measuring
            "postgres": dict(conn.execute("SELECT 'server', version() UNION ALL SELECT 'pgvector', extversion"
                                          " FROM pg_extension WHERE extname = 'vector' UNION ALL SELECT"
                                          " 'shared_buffers', current_setting('shared_buffers')").fetchall()),
            "indexes": indexes, "embed_query_ms": round(embed_ms, 2), "ef_sweep": sweep, "chosen_ef_search": chosen,
            "lexical": lexical, "filtered": filtered}
