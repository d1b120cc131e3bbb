"""`chaffee search`, `chaffee serve`, `chaffee eval-search`, `chaffee bench-search`: one Searcher behind all."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chaffee_assets.settings import get_settings

STABLE_KEYS = ("video_id", "start_s", "end_s", "speaker", "text", "score", "url")  # README "JSON shapes"


def searcher_for(settings, url: str | None = None, **options):
    """A Searcher on the data database (or url): query vectors by the serving model, the configured ef_search."""
    from chaffee_assets.search.service import IndexOptions, Searcher
    from chaffee_assets.speech import models
    from chaffee_assets.store import db

    if url is None:
        with db.session(settings):  # migrations applied before the first query
            pass
        url = db.database_url(settings)
    return Searcher(url, models.embed_for(settings), options=IndexOptions(ef_search=settings.hnsw_ef_search, **options))


@click.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, help="Hits per page.")
@click.option("--speaker", help="Only segments by this speaker (any case).")
@click.option("--video", help="Only this video id.")
@click.option("--since", help="Published on or after YYYY-MM-DD.")
@click.option("--until", help="Published on or before YYYY-MM-DD.")
@click.option("--mode", type=click.Choice(["hybrid", "vector", "lexical"]), help="Default: CHAFFEE_SEARCH_MODE (hybrid).")
@click.option("--page", default=1, show_default=True)
@click.option("--context", default=0, show_default=True, help="Neighbouring segments shown each side.")
@click.option("--json", "as_json", is_flag=True, help="The stable list of hits (README, JSON shapes).")
@click.option("--full", is_flag=True, help="With --json: the API's page (highlights, context, ranks).")
def search(query, k, speaker, video, since, until, mode, page, context, as_json, full) -> None:
    """Search the stored segments: vector (HNSW), lexical (full text) or hybrid (both, fused by reciprocal rank)."""
    from chaffee_assets.search.request import BadRequest, checked

    settings = get_settings()
    try:
        req = checked(query, k=k, page=page, mode=mode or settings.search_mode, speaker=speaker, video=video,
                      since=since, until=until, context=context)
        result = searcher_for(settings).search(req)
    except BadRequest as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        out = result if full else [{key: h[key] for key in STABLE_KEYS} for h in result["hits"]]
        click.echo(json.dumps(out, indent=1))
        return
    for h in result["hits"]:
        for n in h["context"]["before"]:
            click.echo(f"       {n['speaker']}: {n['text']}")
        click.echo(f"{h['score']:.3f}  {h['video_id']} @ {clock(h['start_s'])}  {h['speaker']}: {h['text']}")
        for n in h["context"]["after"]:
            click.echo(f"       {n['speaker']}: {n['text']}")


def clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60:d}:{m % 60:02d}:{s:02d}"


@click.command()
@click.option("--host", help="Bind address; default CHAFFEE_SERVE_HOST (127.0.0.1).")
@click.option("--port", type=int, help="Default CHAFFEE_SERVE_PORT (8000).")
def serve(host: str | None, port: int | None) -> None:
    """The search API and page (FastAPI on uvicorn); OpenAPI at /openapi.json."""
    import uvicorn

    from chaffee_assets.search.api import create_app

    settings = get_settings()
    host, port = host or settings.serve_host, port or settings.serve_port
    app = create_app(searcher_for(settings), default_mode=settings.search_mode)
    click.echo(f"search page on http://{host}:{port}/  (API: /api/search, OpenAPI: /openapi.json; Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@click.command(name="eval-search")
@click.option("--talks", default=300, show_default=True, help="Generated talk videos beside the demo's three.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
def eval_search(talks: int, json_out: Path | None) -> None:
    """MRR and recall@5 per mode on bench/search/questions.json, in a scratch database (the corpus is untouched)."""
    from chaffee_assets.bench import search_corpus, search_quality
    from chaffee_assets.speech import models
    from chaffee_assets.store import db

    settings = get_settings()
    url = db.scratch_database_url(settings, "chaffee_search_eval")
    conn = db.connect(url)
    try:
        videos, rows = search_corpus.fill(conn, talks, models.text_embedder(settings))
    finally:
        conn.close()
    sentences = {s for group in search_corpus.topic_sentences().values() for s in group}
    questions = search_quality.load_questions(sentences=sentences)
    report = search_quality.evaluate(searcher_for(settings, url), questions)
    summary = {"corpus": {"videos": len(videos), "segments": rows}, "questions": len(questions),
               "modes": report, "best": search_quality.best_mode(report)}
    for mode, figures in report.items():
        click.echo(f"{mode:>8}: MRR {figures['mrr']:.3f}  recall@5 {figures['recall@5']:.3f}  "
                   f"answered@1 {figures['answered@1']:.3f}  no answer in top 20: {len(figures['misses'])}")
        for style, part in figures["styles"].items():
            click.echo(f"{'':>10}{style}: MRR {part['mrr']:.3f}  recall@5 {part['recall@5']:.3f}")
    click.echo(f"best: {summary['best']} ({len(questions)} questions, {rows} segments in {len(videos)} videos)")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(summary, indent=1) + "\n")


@click.command(name="bench-search")
@click.option("--segments", default=1_000_000, show_default=True)
@click.option("--pool", default=20_000, show_default=True, help="Distinct grammar sentences embedded.")
@click.option("--m", "m", default=16, show_default=True, help="HNSW m.")
@click.option("--ef-construction", default=64, show_default=True)
@click.option("--ef-search", default="40,100,200", show_default=True, help="The hnsw.ef_search values to measure.")
@click.option("--queries", default=200, show_default=True)
@click.option("--shared-buffers", default="4GB", show_default=True,
              help="Set on the embedded server (ALTER SYSTEM + restart) before the bench; '' leaves it.")
@click.option("--reuse", is_flag=True, help="Keep the scratch table and its indexes when they hold this corpus.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def bench_search(segments, pool, m, ef_construction, ef_search, queries, shared_buffers, reuse, json_out) -> None:
    """Latency (p50/p99) and recall@10 of vector, lexical, hybrid and filtered search at N segments, index build
    time and memory, in a scratch database of the embedded server (the corpus is untouched)."""
    from threadpoolctl import threadpool_limits

    from chaffee_assets.bench import search_bench
    from chaffee_assets.speech import models
    from chaffee_assets.store import db

    settings = get_settings()
    if settings.database_url:
        raise click.ClickException("bench-search runs on the embedded server: unset DATABASE_URL")
    url = db.scratch_database_url(settings, "chaffee_search_bench")
    if shared_buffers:
        with db.connect(url) as conn:
            current = conn.execute("SHOW shared_buffers").fetchone()[0]
            if current.lower() != shared_buffers.lower():
                conn.execute(f"ALTER SYSTEM SET shared_buffers = '{int(shared_buffers.rstrip('GBgb'))}GB'")
                restart = True
            else:
                restart = False
        if restart:
            db.stop_embedded(settings)
            url = db.scratch_database_url(settings, "chaffee_search_bench")
    conn = db.connect(url)
    try:
        db.migrate(conn)
        # numpy's exact references in one thread: an idle BLAS thread spins (~0.1 s) beside the next timed search
        with threadpool_limits(1):
            report = search_bench.run(conn, url, models.text_embedder(settings), segments=segments, pool=pool, m=m,
                                      ef_construction=ef_construction, ef_sweep=[int(x) for x in ef_search.split(",")],
                                      queries=queries, reuse=reuse, cache=settings.home, log=lambda line: click.echo(line, nl=True),
                                      save=lambda partial: write_report(json_out, {**partial, "partial": True}))
    finally:
        conn.close()
    write_report(json_out, report)
    click.echo(f"report: {json_out}")


@click.command(name="bench-model-change")
@click.option("--talks", default=3000, show_default=True, help="Generated talk videos beside the demo's three.")
@click.option("--batch", default=256, show_default=True, help="The backfill's batch.")
@click.option("--searches", default=300, show_default=True, help="Searches timed before and after the change.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def bench_model_change(talks: int, batch: int, searches: int, json_out: Path) -> None:
    """An embedding-model change (backfill, index, switch) while searches run, in a scratch database: backfill
    rate, index build, switch time, and search latency / errors / short pages before, during and after."""
    from chaffee_assets.bench import model_change
    from chaffee_assets.speech import models
    from chaffee_assets.store import db

    settings = get_settings()
    url = db.scratch_database_url(settings, "chaffee_model_change_bench")
    report = model_change.run(url, settings, models.embed_for(settings), talks=talks, batch=batch, searches=searches,
                              model_dir=settings.home / "models" / "minilm-projected-256", log=click.echo)
    write_report(json_out, report)
    click.echo(f"report: {json_out}")


def write_report(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=str) + "\n")
