import dagster as dg

from chaffee_assets.defs.assets.diarization import diarization
from chaffee_assets.defs.assets.transcripts import transcripts
from chaffee_assets.defs.batch import SOURCES_METADATA, Refused, Stopwatch, each_video, summary
from chaffee_assets.defs.partitions import video_asset
from chaffee_assets.defs.resources import Platform
from chaffee_assets.speech.asr.quality import MAX_DROPPED_SHARE, judge
from chaffee_assets.speech.speakers.attribution import attribute

REMEDY = ("the same audio is refused on every re-run; to store it with the defect flagged, set "
          "CHAFFEE_STORE_FLAGGED=1 or run `chaffee ingest --store-flagged`")
MAX_LISTED = 20


@video_asset(
    stage="label",
    deps=[transcripts, diarization],
    kinds={"parquet"},
    description="Words and segments with a speaker name and confidence: clusters matched to voices/ "
    "profiles (threshold + margin), unknown voices become GUEST; segments split at speaker changes. "
    "Segment rules are judged per segment: a segment that breaks one is repaired or dropped (with its "
    f"reason, in sources.metadata.quality); a video is refused when over {MAX_DROPPED_SHARE:.0%} of its "
    "speech is dropped or a decoding loop remains.",
)
def speaker_labels(context: dg.AssetExecutionContext, platform: Platform) -> dg.MaterializeResult:
    clock, files, store_flagged = Stopwatch(), platform.files, platform.settings.store_flagged
    profiles, _host = platform.profiles(context.log)
    names: set[str] = set()
    mended: list[str] = []
    with platform.db() as database:

        def label(video_id: str) -> dict:
            transcript = files.read_transcript(video_id)
            judged = judge(attribute(transcript.segments, files.read_turns(video_id), profiles), transcript.duration_s)
            if judged.refused and not store_flagged:
                raise Refused(f"{judged.refused}; {REMEDY}")
            files.write_labels(video_id, judged.segments)
            names.update(s.speaker for s in judged.segments)
            mended.extend(f"{video_id}: {r}" for r in judged.repairs)
            mended.extend(f"{video_id}: dropped [{d['start']:.2f}-{d['end']:.2f}] ({d['why']})" for d in judged.dropped)
            quality = {"segment_repairs": judged.repairs, "dropped_segments": judged.dropped,
                       "dropped_share": round(judged.dropped_share, 4), "flagged": judged.refused}
            return {"audio_s": transcript.duration_s, "segments": len(judged.segments),
                    "speakers": len({s.speaker for s in judged.segments}), "segments_repaired": len(judged.repairs),
                    "segments_dropped": len(judged.dropped), "flagged": bool(judged.refused),
                    SOURCES_METADATA: {"quality": quality}}

        done = each_video(context, database, "speaker_labels", label)
    meta = summary(done, context.partition_keys, clock.seconds, 0.0)
    meta["segments"] = sum(f["segments"] for f in done.values())
    meta["speakers"] = len(names)  # distinct names across the run's videos (GUEST counts once)
    meta["speaker_names"] = ", ".join(sorted(names)) or "none"
    meta["segments_repaired"] = sum(f["segments_repaired"] for f in done.values())
    meta["segments_dropped"] = sum(f["segments_dropped"] for f in done.values())
    meta["videos_flagged"] = sum(f["flagged"] for f in done.values())
    meta["repairs_and_drops"] = dg.MetadataValue.md("\n".join(f"- {m}" for m in mended[:MAX_LISTED]) or "none")
    return dg.MaterializeResult(metadata=meta)
