"""A searchable corpus in the session's database (the demo's exact references and generated talks, through
the production chunker, store and embedder), and `chaffee serve` running on a free 127.0.0.1 port."""

from __future__ import annotations


import pytest

from chaffee_assets.settings import get_settings
from tests.ui.conftest import served


@pytest.fixture(scope="package")
def embedder(home):
    from chaffee_assets.speech import models

    return models.text_embedder(get_settings())


@pytest.fixture(scope="package")
def corpus(home, embedder) -> dict:
    """{video_id: (Video, chunks)} as stored; other tests' rows may sit beside them."""
    from chaffee_assets.bench import search_corpus
    from chaffee_assets.store import db

    videos = search_corpus.demo_videos() + search_corpus.talk_videos(30, seed=101)
    with db.session(get_settings()) as conn:
        search_corpus.store(conn, videos, embedder)
    return {v.video_id: (v, chunks) for v, chunks in videos}


@pytest.fixture(scope="package")
def searcher(corpus, embedder):
    from chaffee_assets.search.service import Searcher, one_model
    from chaffee_assets.store import db

    s = Searcher(db.database_url(get_settings()), one_model(embedder))
    yield s
    s.close()


@pytest.fixture(scope="package")
def server(corpus, tmp_path_factory) -> str:
    """`chaffee serve` as its own process against the session's database; its base URL."""
    with served(["chaffee_assets.cli", "serve", "--port", "{port}"], "/healthz",
                tmp_path_factory.mktemp("serve") / "serve.log") as url:
        yield url
