import dagster as dg

from chaffee_assets.defs.assets.speaker_labels import speaker_labels
from chaffee_assets.defs.batch import Stopwatch, active_keys, each_video, summary
from chaffee_assets.defs.partitions import video_asset
from chaffee_assets.defs.resources import Platform
from chaffee_assets.speech import models
from chaffee_assets.speech.chunks import chunk
from chaffee_assets.store import segments


@video_asset(
    stage="embed",
    deps=[speaker_labels],
    pool="gpu",
    kinds={"postgres", "pgvector"},
    description="Retrieval chunks (same-speaker segments merged) embedded in one batch across the run's "
    "videos and written to Postgres `segments`, replacing each video's rows in one transaction.",
)
def embeddings(context: dg.AssetExecutionContext, platform: Platform) -> dg.MaterializeResult:
    clock, files = Stopwatch(), platform.files
    embedder = models.text_embedder(platform.settings)
    with platform.db() as database:
        keys = active_keys(context, database, "embeddings")
        chunks = {k: chunk(files.read_labels(k)) for k in keys if files.stage(k, "speaker_labels.parquet").exists()}
        texts = [c.text for cs in chunks.values() for c in cs]
        embed_clock = Stopwatch()
        vectors = embedder.embed(texts)  # one batch across every video of the run
        embed_s = embed_clock.seconds  # this run's share (the embedder is shared by every run of the process)
        offsets, at = {}, 0
        for k, cs in chunks.items():
            offsets[k] = (at, at + len(cs))
            at += len(cs)

        def write(video_id: str) -> dict:
            a, b = offsets[video_id]
            rows = database.run(segments.replace, video_id, chunks[video_id], vectors[a:b], embedder.model_name)
            duration = database.execute("SELECT duration_s FROM sources WHERE video_id = %s", (video_id,))[0][0]
            return {"audio_s": float(duration or 0.0), "rows": rows}

        done = each_video(context, database, "embeddings", write, keys)
        corpus = database.run(segments.stats)  # after this run's writes: what `chaffee stats` prints now
    meta = summary(done, context.partition_keys, clock.seconds, embed_s)
    meta["rows"] = sum(f["rows"] for f in done.values())
    meta.update(corpus_figures(corpus))
    return dg.MaterializeResult(metadata=meta)


def corpus_figures(stats: dict) -> dict:
    """The operators' run summary (videos, audio hours, elapsed, h audio/h for the whole corpus) as
    numeric `corpus_*` metadata, which the UI plots run after run; a figure not defined yet is null."""
    return {f"corpus_{k}": dg.MetadataValue.null() if v is None else v for k, v in stats.items()}
