"""`chaffee embeddings`: change the corpus's embedding model without stopping search (store/embedding_models.py)."""

from __future__ import annotations

import json
import time

import click

from chaffee_assets.settings import get_settings


@click.group()
def embeddings() -> None:
    """The corpus's embedding models: status, add a new one, backfill it, switch search to it."""


@embeddings.command("status")
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Each model: state, where its vectors live, how many, how many segments still lack one, its index."""
    from chaffee_assets.store import db, embedding_models

    with db.session(get_settings()) as conn:
        rows = embedding_models.status(conn)
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        click.echo("no model yet: the first ingest registers CHAFFEE_EMBED_MODEL")
    for r in rows:
        click.echo(f"{r['state']:>11}  {r['name']}  {r['dim']}-d in {r['storage']}: {r['vectors']} vectors, "
                   f"{r['missing']} segments without; index {r['index']} {'ready' if r['index_ready'] else 'not built'}")


@embeddings.command("add")
@click.argument("model")
def add(model: str) -> None:
    """Start a model change: MODEL (a local sentence-transformers folder, or 'bundled') backfills beside the
    serving model, and every ingest from now on writes vectors of both."""
    from chaffee_assets.speech import models
    from chaffee_assets.store import db, embedding_models

    settings = get_settings()
    embedder = models.text_embedder(settings, model)  # loads it: a model that cannot load is refused here
    with db.session(settings) as conn:
        try:
            added = embedding_models.add(conn, embedder.model_name, embedder.dim)
        except embedding_models.ModelChangeError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{added.name} ({added.dim}-d) is backfilling; `chaffee embeddings backfill` fills it and switches")


@embeddings.command("backfill")
@click.option("--batch", default=256, show_default=True, help="Segments embedded and committed at a time.")
@click.option("--switch/--no-switch", default=True, show_default=True,
              help="Switch search to the model once every segment has its vector and its index is built.")
def backfill(batch: int, switch: bool) -> None:
    """Embed every segment the backfilling model has no vector for (resumable: stopped, it goes on where it
    was), build its HNSW index concurrently, then switch search to it in one transaction."""
    from chaffee_assets.speech import models
    from chaffee_assets.store import db, embedding_models

    settings = get_settings()
    with db.session(settings) as conn:
        model = next((m for m in embedding_models.live(conn) if m.state == "backfilling"), None)
        if model is None:
            raise click.ClickException("no model is backfilling: `chaffee embeddings add MODEL` starts a change")
        embedder = models.text_embedder(settings, model.name)
        started, total = time.perf_counter(), conn.execute("SELECT count(*) FROM segments").fetchone()[0]

        def progress(written: int, last_id: int) -> None:
            rate = written / max(time.perf_counter() - started, 1e-9)
            click.echo(f"{model.name}: {written} vectors written ({rate:.0f}/s), up to segment {last_id} of ~{total}")

        written = embedding_models.backfill(conn, model, embedder.embed, batch=batch, progress=progress)
        seconds = time.perf_counter() - started
        click.echo(f"{model.name}: {written} vectors in {seconds:.1f} s; building its index {model.index}")
        click.echo(f"index built in {embedding_models.build_index(conn, model):.1f} s")
        if not switch:
            click.echo(f"not switched (--no-switch): `chaffee embeddings switch {model.name}` when ready")
            return
        try:
            served = embedding_models.switch(conn, model.name)
        except embedding_models.ModelChangeError as exc:
            raise click.ClickException(f"{exc} (rerun the backfill: it picks up what it missed)") from None
    click.echo(f"search is served by {served.name} now")


@embeddings.command("switch")
@click.argument("model")
def switch(model: str) -> None:
    """Serve search from MODEL, once its backfill and index are complete; the serving model is retired."""
    from chaffee_assets.store import db, embedding_models

    with db.session(get_settings()) as conn:
        try:
            served = embedding_models.switch(conn, model)
        except embedding_models.ModelChangeError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"search is served by {served.name} now")
