import dagster as dg

from chaffee_assets.defs.assets.raw_audio import raw_audio
from chaffee_assets.defs.batch import SOURCES_METADATA, Stopwatch, active_keys, gpu_sampling, record, summary
from chaffee_assets.defs.executors import runs_here
from chaffee_assets.defs.partitions import video_asset
from chaffee_assets.defs.resources import Platform
from chaffee_assets.speech import models
from chaffee_assets.store import catalog


@video_asset(
    stage="asr",
    deps=[raw_audio],
    pool="gpu",
    kinds={"pytorch", "parquet"},
    description="Whisper transcripts (segments + words with timestamps and confidences, hallucination "
    "guards applied) as per-video Parquet. One clip stream for the run: batches span videos; files are "
    "read and VAD'd by prep worker processes while the model decodes.",
)
def transcripts(context: dg.AssetExecutionContext, platform: Platform) -> dg.MaterializeResult:
    clock, files, settings = Stopwatch(), platform.files, platform.settings
    model = models.transcriber(settings)
    if runs_here(context.run):  # the next steps run in this process: load their models while ASR runs
        models.warm_up(settings)
    done, peaks = {}, {"io": 0, "asr": 0}
    with gpu_sampling(platform) as gpu, platform.db() as database:
        keys = active_keys(context, database, "transcripts")
        stream = model.transcribe_many(((k, files.audio(k)) for k in keys), workers=settings.prep_workers)
        for finished in stream:  # videos come back as their last clip is decoded
            record(context, database, "transcripts", finished.key, lambda f=finished: _store(files, f), done)
            queues, figures = finished.queues, done.get(finished.key)
            peaks = {name: max(peaks[name], queues[name]) for name in peaks}
            backlog = database.run(catalog.backlog)
            speed = f"{figures['audio_s'] / max(figures['compute_s'], 1e-6):.1f} x_realtime" if figures else "failed"
            context.log.info(f"{finished.key}: {speed}; "
                             f"queues: io={queues['io']} asr={queues['asr']} db={backlog['labelled']}")
    meta = summary(done, context.partition_keys, clock.seconds, sum(f["compute_s"] for f in done.values()))
    meta["segments"] = sum(f["segments"] for f in done.values())
    meta.update(asr_backend=model.backend, asr_model=model.model_name, asr_dtype=model.dtype,  # what ran
                prep_workers=settings.prep_workers, io_queue_peak=peaks["io"], asr_queue_peak=peaks["asr"])
    meta.update(gpu.figures())  # on a GPU: NVML utilisation and memory; busy_fraction becomes device time
    return dg.MaterializeResult(metadata=meta)


def _store(files, finished) -> dict:
    """One video's transcript to Parquet; its error raised, for batch.record to mark the video failed."""
    t = finished.result
    if isinstance(t, Exception):
        raise t
    files.write_transcript(finished.key, t)
    return {"audio_s": t.duration_s, "compute_s": t.compute_s, "segments": len(t.segments), "dropped": len(t.dropped),
            "word_repairs": sum(t.repairs.values()), SOURCES_METADATA: {"word_repairs": t.repairs}}
