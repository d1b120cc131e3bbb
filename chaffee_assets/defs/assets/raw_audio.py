import shutil
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

import dagster as dg

from chaffee_assets.defs.batch import Stopwatch, active_keys, record, summary
from chaffee_assets.defs.partitions import video_asset
from chaffee_assets.defs.resources import Platform
from chaffee_assets.sources import Video, source_for
from chaffee_assets.sources.ytdlp import HostGate
from chaffee_assets.speech import audio
from chaffee_assets.store import catalog


@video_asset(
    stage="download",
    pool="io",
    kinds={"audio"},
    description="Each video's audio, fetched once from its source and stored as 16 kHz mono FLAC "
    "under CHAFFEE_HOME/audio; duration recorded in `sources`. CHAFFEE_DOWNLOAD_WORKERS downloads at once; "
    "a 429 holds every download from that host.",
)
def raw_audio(context: dg.AssetExecutionContext, platform: Platform) -> dg.MaterializeResult:
    clock, settings = Stopwatch(), platform.settings
    downloads = Downloads(platform)
    done: dict[str, dict] = {}
    with platform.db() as database, ThreadPoolExecutor(settings.download_workers, "download") as pool:
        todo: list[Video] = []
        for key in active_keys(context, database, "raw_audio"):
            try:
                todo.append(database.run(catalog.get, key))
            except Exception as exc:  # noqa: BLE001 - recorded as this video's failure
                record(context, database, "raw_audio", key, lambda e=exc: _raise(e), done)
        # workers download and convert; this thread owns the database connection and records each outcome
        running = [pool.submit(downloads.fetch, video) for video in todo]
        for future in as_completed(running):
            record(context, database, "raw_audio", future.result()[0],
                   lambda f=future: downloads.landed(database, f.result()), done)
    meta = summary(done, context.partition_keys, clock.seconds, 0.0)
    meta.update(download_workers=settings.download_workers, download_concurrency_peak=downloads.peak,
                download_s=round(downloads.busy_s, 2), host_holds_429=HostGate.holds_total())
    return dg.MaterializeResult(metadata=meta)


def _raise(exc: BaseException):
    raise exc


class Downloads:
    """One video's download and conversion on a worker thread; its outcome recorded on the asset's."""

    def __init__(self, platform: Platform) -> None:
        self.files, self.settings = platform.files, platform.settings
        self.lock = threading.Lock()
        self.active = self.peak = 0
        self.busy_s = 0.0  # download + conversion seconds summed over the workers

    def fetch(self, video: Video) -> tuple[str, Video, float | BaseException]:
        """(video id, the video as the source left it, seconds of audio or the error)."""
        target = self.files.audio(video.video_id)
        if target.exists():  # downloaded once: a re-run (or --force) reuses the converted audio
            return video.video_id, video, audio.duration(target)
        clock = Stopwatch()
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            # A stable folder per video: an interrupted download is resumed by the next attempt.
            dest = self.settings.downloads_dir / video.video_id
            media = source_for(video).download(video, dest)
            seconds = audio.convert(media, target)
            shutil.rmtree(dest, ignore_errors=True)  # the source's media, once converted
            return video.video_id, video, seconds
        except Exception as exc:  # noqa: BLE001 - the asset's thread records it as this video's failure
            return video.video_id, video, exc
        finally:
            with self.lock:
                self.active -= 1
                self.busy_s += clock.seconds

    def landed(self, database, outcome: tuple[str, Video, float | BaseException]) -> dict:
        key, video, seconds = outcome
        database.run(catalog.register, [video])  # keeps what the source learned (full metadata)
        if isinstance(seconds, BaseException):
            raise seconds
        database.run(catalog.mark, key, "downloaded", duration_s=seconds)
        return {"audio_s": seconds}

