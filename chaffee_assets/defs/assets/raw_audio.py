import shutil

import dagster as dg

from chaffee_assets.defs.batch import Stopwatch, each_video, summary
from chaffee_assets.defs.partitions import video_asset
from chaffee_assets.defs.resources import Platform
from chaffee_assets.sources import source_for
from chaffee_assets.speech import audio
from chaffee_assets.store import catalog


@video_asset(
    stage="download",
    pool="io",
    kinds={"audio"},
    description="Each video's audio, fetched once from its source and stored as 16 kHz mono FLAC "
    "under CHAFFEE_HOME/audio; duration recorded in `sources`.",
)
def raw_audio(context: dg.AssetExecutionContext, platform: Platform) -> dg.MaterializeResult:
    clock, files = Stopwatch(), platform.files
    with platform.db() as database:

        def fetch(video_id: str) -> dict:
            video = database.run(catalog.get, video_id)
            target = files.audio(video_id)
            if target.exists():  # downloaded once: a re-run (or --force) reuses the converted audio
                seconds = audio.duration(target)
            else:
                # A stable folder per video: an interrupted download is resumed by the next attempt.
                dest = platform.settings.downloads_dir / video_id
                try:
                    media = source_for(video).download(video, dest)
                finally:
                    database.run(catalog.register, [video])  # keeps what the source learned (full metadata)
                seconds = audio.convert(media, target)
                shutil.rmtree(dest, ignore_errors=True)
            database.run(catalog.mark, video_id, "downloaded", duration_s=seconds)
            return {"audio_s": seconds}

        done = each_video(context, database, "raw_audio", fetch)
    return dg.MaterializeResult(metadata=summary(done, context.partition_keys, clock.seconds, 0.0))
