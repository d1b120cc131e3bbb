import dagster as dg

from chaffee_assets.defs.assets.raw_audio import raw_audio
from chaffee_assets.defs.batch import Stopwatch, active_keys, each_video, summary
from chaffee_assets.defs.partitions import video_asset
from chaffee_assets.defs.resources import Platform
from chaffee_assets.defs.runner import runs_here
from chaffee_assets.speech import models
from chaffee_assets.store import catalog


@video_asset(
    stage="asr",
    deps=[raw_audio],
    pool="gpu",
    kinds={"pytorch", "parquet"},
    description="faster-whisper transcripts (segments + words with timestamps and confidences, "
    "hallucination guards applied) as per-video Parquet. The next videos are decoded on a CPU thread "
    "while the model runs.",
)
def transcripts(context: dg.AssetExecutionContext, platform: Platform) -> dg.MaterializeResult:
    clock, files = Stopwatch(), platform.files
    model = models.transcriber(platform.settings)
    if runs_here(context.run):  # the next steps run in this process: load their models while ASR runs
        models.warm_up(platform.settings)
    compute = 0.0
    with platform.db() as database:
        keys = active_keys(context, database, "transcripts")
        results = model.transcribe_many((k, files.audio(k)) for k in keys)

        def transcribe(video_id: str) -> dict:
            nonlocal compute
            key, t, queued = next(results)
            assert key == video_id, (key, video_id)
            if isinstance(t, Exception):
                raise t
            compute += t.compute_s
            files.write_transcript(video_id, t)
            backlog = database.run(catalog.backlog)
            context.log.info(f"{video_id}: {t.duration_s / max(t.compute_s, 1e-6):.1f} x_realtime; "
                             f"queues: io={queued} asr={len(keys) - keys.index(key) - 1} db={backlog['labelled']}")
            return {"audio_s": t.duration_s, "segments": len(t.segments), "dropped": len(t.dropped)}

        done = each_video(context, database, "transcripts", transcribe, keys)
    meta = summary(done, context.partition_keys, clock.seconds, compute)
    meta["segments"] = sum(f["segments"] for f in done.values())
    meta.update(asr_backend=model.backend, asr_model=model.model_name, asr_dtype=model.dtype)  # what ran
    return dg.MaterializeResult(metadata=meta)
