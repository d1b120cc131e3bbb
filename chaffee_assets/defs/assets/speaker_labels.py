import dagster as dg

from chaffee_assets.defs.assets.diarization import diarization
from chaffee_assets.defs.assets.transcripts import transcripts
from chaffee_assets.defs.batch import Stopwatch, each_video, summary
from chaffee_assets.defs.partitions import video_asset
from chaffee_assets.defs.resources import Platform
from chaffee_assets.speech.speakers.attribution import attribute


@video_asset(
    stage="label",
    deps=[transcripts, diarization],
    kinds={"parquet"},
    description="Words and segments with a speaker name and confidence: clusters matched to voices/ "
    "profiles (threshold + margin), unknown voices become GUEST; segments split at speaker changes.",
)
def speaker_labels(context: dg.AssetExecutionContext, platform: Platform) -> dg.MaterializeResult:
    clock, files = Stopwatch(), platform.files
    profiles, _host = platform.profiles(context.log)
    names: set[str] = set()
    with platform.db() as database:

        def name(video_id: str) -> dict:
            transcript = files.read_transcript(video_id)
            segments = attribute(transcript.segments, files.read_turns(video_id), profiles)
            files.write_labels(video_id, segments)
            names.update(s.speaker for s in segments)
            return {"audio_s": transcript.duration_s, "segments": len(segments),
                    "speakers": len({s.speaker for s in segments})}

        done = each_video(context, database, "speaker_labels", name)
    meta = summary(done, context.partition_keys, clock.seconds, 0.0)
    meta["segments"] = sum(f["segments"] for f in done.values())
    meta["speakers"] = len(names)  # distinct names across the run's videos (GUEST counts once)
    meta["speaker_names"] = ", ".join(sorted(names)) or "none"
    return dg.MaterializeResult(metadata=meta)
