import dagster as dg

from chaffee_assets.defs.assets.speaker_labels import speaker_labels
from chaffee_assets.defs.batch import Stopwatch, active_keys, each_video, gpu_sampling, summary
from chaffee_assets.defs.partitions import video_asset
from chaffee_assets.defs.resources import Platform
from chaffee_assets.speech import models
from chaffee_assets.speech.text.chunks import chunk
from chaffee_assets.speech.text.embed import canonical
from chaffee_assets.store import embedding_models, segments
from chaffee_assets.store.db import Database, DatabaseUnavailable


@video_asset(
    stage="embed",
    deps=[speaker_labels],
    pool="gpu",
    kinds={"postgres", "pgvector"},
    description="Retrieval chunks (same-speaker segments merged) embedded in one batch across the run's "
    "videos (by each live model: two during a model change) and written to Postgres `segments` with one COPY in one transaction for the whole run "
    "(a video that breaks it is then written alone).",
)
def embeddings(context: dg.AssetExecutionContext, platform: Platform) -> dg.MaterializeResult:
    clock, files, settings = Stopwatch(), platform.files, platform.settings
    with gpu_sampling(platform) as gpu, platform.db() as database:
        keys = active_keys(context, database, "embeddings")
        names = model_names(context, database, settings)
        chunks = {k: chunk(files.read_labels(k)) for k in keys if files.stage(k, "speaker_labels.parquet").exists()}
        texts = [c.text for cs in chunks.values() for c in cs]
        embed_clock = Stopwatch()
        # one batch across every video of the run, by each live model (two during a model change)
        vectors = {name: models.text_embedder(settings, name).embed(texts) for name in names}
        embed_s = embed_clock.seconds  # this run's share (the embedders are shared by every run of the process)
        batch, at = {}, 0
        for k, cs in chunks.items():
            batch[k] = (cs, {name: v[at : at + len(cs)] for name, v in vectors.items()})
            at += len(cs)
        embed = models.embed_for(settings)
        written = write_batch(context, database, batch, embed)

        def write(video_id: str) -> dict:
            # a video the batch COPY did not store is written alone: its own error is then its own
            if video_id in written:
                rows = written[video_id]
            else:
                rows = database.run(segments.replace, video_id, *batch[video_id], embed=embed)
            duration = database.execute("SELECT duration_s FROM sources WHERE video_id = %s", (video_id,))[0][0]
            return {"audio_s": float(duration or 0.0), "rows": rows}

        done = each_video(context, database, "embeddings", write, keys)
        corpus = database.run(segments.stats)  # after this run's writes: what `chaffee stats` prints now
    meta = summary(done, context.partition_keys, clock.seconds, embed_s, clock.cpu_seconds)
    meta["rows"] = sum(f["rows"] for f in done.values())
    meta.update(corpus_figures(corpus))
    meta.update(gpu.figures())  # NVML's figures and device-busy share on a GPU; none on CPU
    return dg.MaterializeResult(metadata=meta)


def model_names(context: dg.AssetExecutionContext, database: Database, settings) -> list[str]:
    """The models to embed with: the corpus's live ones (embedding_models), or CHAFFEE_EMBED_MODEL for a new
    corpus. A configured model the corpus does not serve is named in the log with the way to move to it."""
    configured = canonical(settings.embed_model)
    names = [m.name for m in database.run(embedding_models.live)] or [configured]
    if configured not in names:
        context.log.warning(f"CHAFFEE_EMBED_MODEL is {configured}, the corpus is embedded by {', '.join(names)}: "
                            f"`chaffee embeddings add {configured}` then `chaffee embeddings backfill` moves to it")
    return names


def write_batch(context: dg.AssetExecutionContext, database: Database, batch: dict, embed) -> dict[str, int]:
    """One COPY for the whole run; {} when it fails for any video (each is then written alone)."""
    if not batch:
        return {}
    try:
        return database.run(segments.replace_many, batch, embed=embed)
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        context.log.warning(f"one COPY for the run's {len(batch)} videos failed ({type(exc).__name__}: {exc}); "
                            "writing them one by one")
        return {}


def corpus_figures(stats: dict) -> dict:
    """The operators' run summary (videos, audio hours, elapsed, h audio/h for the whole corpus) as
    numeric `corpus_*` metadata, which the UI plots run after run; a figure not defined yet is null."""
    return {f"corpus_{k}": dg.MetadataValue.null() if v is None else v for k, v in stats.items()}
