"""`chaffee bench-search`: the search at N segments in a scratch database of the embedded Postgres.

Text: each segment is 2-4 sentences drawn from the corpora's sentence banks (a quarter from the health
topics, questions and interview texts; the rest from the stress corpus's grammar, `pool` distinct ones).
Vectors: every distinct sentence is embedded once by the bundled model (all-MiniLM-L6-v2); a segment's
vector is the mean of its sentences' vectors plus Gaussian noise (sigma per dimension), normalised. Exact
top-k comes from numpy over the same float32 vectors, with the same filters, so recall needs no slow scan."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from chaffee_assets.bench import search_corpus
from chaffee_assets.speech.text.embed import BUNDLED_NAME
from chaffee_assets.store import embedding_models

ROWS_PER_VIDEO = 200
SPEAKERS = (("host", 0.7), ("GUEST", 0.28), ("GUEST-2", 0.02))


@dataclass
class Corpus:
    texts: list[str]
    vectors: np.ndarray  # (n, 384) float32, unit norm; row i is segment id i + 1
    video: np.ndarray  # (n,) source index of each row (0-based)
    speakers: list[str]
    videos: int


def sentence_pool(pool: int, seed: int) -> tuple[list[str], list[str]]:
    """(topical sentences, grammar sentences): the banks of scripts/, and `pool` distinct grammar ones."""
    synth, stress = search_corpus.script("synth_corpus"), search_corpus.script("stress_corpus")
    topical = list(dict.fromkeys(synth.BANK + [q for _, q in synth.QUESTIONS] + synth.ENROLL
                                 + search_corpus.script("interview_texts").LONG))
    rng, grammar = random.Random(seed), {}
    while len(grammar) < pool:
        grammar.setdefault(stress.sentence(rng), None)
    return topical, list(grammar)


def build(n: int, embed, *, pool: int = 20_000, sigma: float = 0.015, seed: int = 5, cache: Path | None = None) -> Corpus:
    """The corpus of n segments; `cache`: a folder keeping the sentence vectors between runs (same pool, seed)."""
    topical, grammar = sentence_pool(pool, seed)
    sentences = topical + grammar
    kept = cache / f"bench-search-sentences-{pool}-{seed}.npy" if cache else None
    if kept is not None and kept.exists():
        base = np.load(kept)
    else:
        base = embed(sentences).astype(np.float32)
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            np.save(kept, base)
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 5, size=n)
    picks = np.where(rng.random((n, 4)) < 0.25, rng.integers(0, len(topical), (n, 4)),
                     rng.integers(len(topical), len(sentences), (n, 4)))
    vectors = np.empty((n, base.shape[1]), dtype=np.float32)
    for lo in range(0, n, 50_000):
        hi = min(n, lo + 50_000)
        mask = (np.arange(4)[None, :] < sizes[lo:hi, None]).astype(np.float32)
        mean = (base[picks[lo:hi]] * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        mean += rng.normal(0, sigma, mean.shape).astype(np.float32)
        vectors[lo:hi] = mean / np.linalg.norm(mean, axis=1, keepdims=True)
    texts = [" ".join(sentences[j] for j in picks[i, :sizes[i]]) for i in range(n)]
    names, shares = zip(*SPEAKERS)
    speakers = [str(name) for name in rng.choice(names, size=n, p=shares)]
    videos = max(1, n // ROWS_PER_VIDEO)
    return Corpus(texts, vectors, np.arange(n) * videos // n, speakers, videos)


def load(conn, corpus: Corpus) -> float:
    """Empty the scratch tables and COPY the corpus in (indexes dropped first); returns seconds."""
    from datetime import datetime, timedelta, timezone

    started = time.perf_counter()
    conn.execute("TRUNCATE segments, sources, embedding_models RESTART IDENTITY CASCADE")
    embedding_models.first(conn, BUNDLED_NAME, embedding_models.COLUMN_DIM)  # serving from segments.embedding
    conn.execute("DROP INDEX IF EXISTS segments_embedding_hnsw")
    conn.execute("DROP INDEX IF EXISTS segments_tsv_gin")
    epoch = datetime(2016, 1, 1, tzinfo=timezone.utc)
    with conn.cursor().copy("COPY sources (id, source_type, video_id, url, title, published_at, status) FROM STDIN") as copy:
        for v in range(corpus.videos):
            copy.write_row((v + 1, "youtube", f"bench{v:06d}", f"https://www.youtube.com/watch?v=bench{v:06d}",
                            f"talk {v}", epoch + timedelta(hours=17 * v), "done"))
    conn.execute("SELECT setval('sources_id_seq', %s)", (corpus.videos,))
    seq = np.zeros(corpus.videos, dtype=np.int64)
    with conn.cursor().copy("COPY segments (id, source_id, seq, start_s, end_s, speaker, speaker_conf, text,"
                            " embedding, embedding_model) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["bigint", "bigint", "integer", "double precision", "double precision", "text", "real", "text",
                        "vector", "text"])
        for i, text in enumerate(corpus.texts):
            v = int(corpus.video[i])
            s = int(seq[v])
            seq[v] += 1
            copy.write_row((i + 1, v + 1, s, 15.0 * s, 15.0 * s + 14.0, corpus.speakers[i], 0.9, text,
                            corpus.vectors[i], BUNDLED_NAME))
    conn.execute("SELECT setval('segments_id_seq', %s)", (len(corpus.texts),))
    return time.perf_counter() - started


def postgres_rss_mib() -> float:
    """Memory of the embedded server: its processes' private resident pages (rss - shared) plus the system's
    shared memory (a parallel HNSW build keeps its graph in dynamic shared memory, /dev/shm)."""
    total = 0
    for p in psutil.process_iter(["name"]):
        if (p.info["name"] or "").startswith("postgres"):
            try:
                mem = p.memory_info()
                total += mem.rss - getattr(mem, "shared", 0)
            except psutil.Error:
                pass
    return (total + psutil.virtual_memory().shared) / 2**20


def timed_build(conn, statement: str) -> dict:
    """Run one CREATE INDEX, sampling the server's private memory; seconds and the peak MiB over the start."""
    base, peak, done = postgres_rss_mib(), [0.0], threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            peak[0] = max(peak[0], postgres_rss_mib() - base)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    started = time.perf_counter()
    conn.execute(statement)
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    return {"seconds": round(seconds, 1), "peak_mib": round(peak[0]), "statement": statement}
