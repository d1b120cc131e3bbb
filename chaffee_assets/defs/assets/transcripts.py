import dagster as dg

from chaffee_assets.defs.assets.raw_audio import raw_audio
from chaffee_assets.defs.batch import Stopwatch, each_video, summary
from chaffee_assets.defs.partitions import batch_policy, videos
from chaffee_assets.defs.resources import Platform
from chaffee_assets.speech import audio, models


@dg.asset(
    deps=[raw_audio],
    partitions_def=videos,
    backfill_policy=batch_policy,
    pool="gpu",
    group_name="speech",
    kinds={"pytorch", "parquet"},
    owners=["team:chaffee-data"],
    description="faster-whisper transcripts (segments + words with timestamps and confidences, "
    "hallucination guards applied) as per-video Parquet.",
)
def transcripts(context: dg.AssetExecutionContext, platform: Platform) -> dg.MaterializeResult:
    clock, files = Stopwatch(), platform.files
    model = models.transcriber(platform.settings)
    compute = 0.0
    with platform.db() as conn:

        def transcribe(video_id: str) -> dict:
            nonlocal compute
            t = model.transcribe(audio.load(files.audio(video_id)))
            compute += t.compute_s
            files.write_transcript(video_id, t)
            return {"audio_s": t.duration_s, "segments": len(t.segments), "dropped": len(t.dropped)}

        done = each_video(context, conn, "transcripts", transcribe)
    return dg.MaterializeResult(metadata=summary(done, context.partition_keys, clock.seconds, compute))
