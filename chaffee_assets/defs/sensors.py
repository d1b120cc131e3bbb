"""The daemon's two sensors, the same split as `chaffee ingest` (defs/ahead.py): downloads run ahead of
the models, never inside their chain.

- `new_uploads` lists the configured channels and feeds, adds new videos as partitions and requests
  `download` runs (raw_audio alone, several videos per run; the `io` pool).
- `downloaded_audio` requests `process` runs (transcripts .. embeddings, the `gpu` pool) over the videos
  downloaded and not yet processed, sized by hours of audio. The run queue runs both kinds side by side.
"""

from __future__ import annotations

import json

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from chaffee_assets.defs.jobs import download_job, process_job
from chaffee_assets.defs.partitions import videos
from chaffee_assets.defs.resources import Platform
from chaffee_assets.defs.runner import batches
from chaffee_assets.settings import get_settings
from chaffee_assets.sources import DownloadError, source_for_url
from chaffee_assets.sources.filters import Filters, is_temporary

# A channel's uploads are listed newest first: after this many known ids in a row the rest is known too.
STOP_AFTER_KNOWN = 10
# Filtered-out ids remembered per channel (so they count as known); live/upcoming ones are not remembered.
MAX_REMEMBERED = 5000


@dg.sensor(
    name="new_uploads",
    job=download_job,
    minimum_interval_seconds=get_settings().sensor_interval_s,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Lists CHAFFEE_CHANNELS (YouTube channels/playlists, RSS feeds), adds new videos that pass "
    "the filters as `videos` partitions and requests `download` runs of up to CHAFFEE_VIDEOS_PER_RUN videos "
    "(turn on `downloaded_audio` too: it requests their `process` runs).",
)
def new_uploads(context: dg.SensorEvaluationContext, platform: Platform) -> dg.SensorResult:
    settings = platform.settings
    if not settings.channels:
        return dg.SensorResult(skip_reason="no channels to watch: set CHAFFEE_CHANNELS", cursor=context.cursor)
    state = json.loads(context.cursor or "{}")
    remembered: dict[str, list[str]] = state.get("filtered", {})
    # Channels listed to the end once: the backlog is in. Until then a tick reads the whole channel, even
    # when its newest videos are already partitions (e.g. after `chaffee ingest --limit N`).
    complete = set(state.get("complete", []))
    known = set(context.instance.get_dynamic_partitions(videos.name))
    filters = Filters.from_settings(settings)
    found, problems = [], []
    for url in settings.channels:
        source = source_for_url(url, filters=filters, settings=settings)
        try:
            incremental = source.incremental and url in complete
            listing = source.scan(known | set(remembered.get(url, ())),
                                  stop_after_known=STOP_AFTER_KNOWN if incremental else None)
        except DownloadError as exc:  # one channel down does not stop the others
            problems.append(str(exc))
            context.log.error(str(exc))
            continue
        for message in listing.invalid:
            context.log.warning(f"{url}: entry dropped: {message}")
        if listing.complete:
            complete.add(url)
        filtered = [vid for vid, why in listing.rejected.items() if not is_temporary(why)]
        remembered[url] = list(dict.fromkeys(filtered + remembered.get(url, [])))[:MAX_REMEMBERED]
        found.extend(listing.videos)
        known.update(v.video_id for v in listing.videos)
        context.log.info(
            f"{url}: {listing.listed} listed, {listing.known} known, {len(listing.rejected)} filtered, "
            f"{len(listing.invalid)} invalid, {len(listing.videos)} new"
            + ("" if listing.complete else " (stopped at known videos)")
        )
    cursor = json.dumps({"complete": sorted(complete), "filtered": remembered}, separators=(",", ":"))
    if problems and not found:
        raise DownloadError("; ".join(problems))
    if not found:
        return dg.SensorResult(skip_reason="no new videos", cursor=cursor)
    with platform.db() as database:
        from chaffee_assets.store import catalog

        database.run(catalog.register, found)  # raw_audio finds each video's URL and source here
    keys = [v.video_id for v in found]
    durations = {v.video_id: v.duration_s for v in found}
    runs = [_range_request(batch) for batch in batches(  # appended in this order: contiguous ranges
        keys, keys, settings.videos_per_run, durations, settings.audio_h_per_run * 3600)]
    return dg.SensorResult(run_requests=runs, dynamic_partitions_requests=[videos.build_add_request(keys)],
                           cursor=cursor)


@dg.sensor(
    name="downloaded_audio",
    job=process_job,
    minimum_interval_seconds=get_settings().landed_interval_s,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Requests `process` runs (transcripts .. embeddings) over the videos whose audio has been "
    "downloaded and not yet processed: contiguous partitions, up to CHAFFEE_VIDEOS_PER_RUN videos or "
    "CHAFFEE_AUDIO_H_PER_RUN hours of audio per run. Each video is requested once; a failed run's videos "
    "wait for a re-run from the UI or `chaffee ingest`.",
)
def downloaded_audio(context: dg.SensorEvaluationContext, platform: Platform) -> dg.SensorResult:
    from chaffee_assets.store import catalog

    settings = platform.settings
    with platform.db() as database:
        waiting = database.run(catalog.downloaded)
    requested = set(json.loads(context.cursor or "[]")) & set(waiting)  # still waiting: requested, not done
    ready = [k for k in waiting if k not in requested]
    cursor = json.dumps(sorted(requested | set(ready)), separators=(",", ":"))
    if not ready:
        return dg.SensorResult(skip_reason=f"no newly downloaded videos ({len(requested)} already requested)",
                               cursor=cursor)
    order = context.instance.get_dynamic_partitions(videos.name)
    # no run key: the cursor is what makes a request once, and a video downloaded again later (after a
    # failure) must be requested again, which a run key already used would silently prevent
    runs = [_range_request(batch, run_key=None) for batch in batches(
        order, ready, settings.videos_per_run, waiting, settings.audio_h_per_run * 3600)]
    return dg.SensorResult(run_requests=runs, cursor=cursor)


def _range_request(batch: list[str], run_key: str | None = "") -> dg.RunRequest:
    """One run over a contiguous range of `videos` partitions (run key: the range, unless given)."""
    return dg.RunRequest(run_key=f"{batch[0]}..{batch[-1]}" if run_key == "" else run_key,
                         tags={ASSET_PARTITION_RANGE_START_TAG: batch[0], ASSET_PARTITION_RANGE_END_TAG: batch[-1]})
