"""Asset checks judge videos, not steps: a video that breaks a rule is marked failed and the others go
on (WARN); only what is every video's problem (wrong embedding dimension) fails with ERROR."""

import time

import dagster as dg

from chaffee_assets.defs.assets.embeddings import embeddings
from chaffee_assets.defs.assets.speaker_labels import speaker_labels
from chaffee_assets.defs.resources import Platform
from chaffee_assets.speech.asr.quality import segment_problems, vector_problems
from chaffee_assets.speech.text.chunks import chunk
from chaffee_assets.store import catalog, embedding_models, segments

MAX_LISTED = 20


def _result(problems: dict[str, list[str]], checked: int, severity=dg.AssetCheckSeverity.WARN,
            **extra) -> dg.AssetCheckResult:
    listed = [f"{k}: {p}" for k, ps in problems.items() for p in ps][:MAX_LISTED]
    return dg.AssetCheckResult(
        passed=not problems,
        severity=severity,
        metadata={"videos_checked": checked, "videos_with_problems": len(problems),
                  "failed_videos": ", ".join(problems) or "none",
                  "problems": dg.MetadataValue.md("\n".join(f"- {x}" for x in listed) or "none"), **extra},
    )


def _checked_keys(context, database) -> list[str]:
    return [k for k, s in database.run(catalog.statuses, context.partition_keys).items() if s not in catalog.INACTIVE]


def _fail_videos(context, database, check: str, problems: dict[str, list[str]], outcome: str) -> None:
    """Each video with problems is marked failed with the check, the first rule it broke and the segment;
    later stages pass over it and the run's other videos go on. A later run retries it from raw_audio."""
    for key, found in problems.items():
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        message = f"{check} failed for video {key}: {found[0]}{more}; {outcome}"
        context.log.error(message)
        database.run(catalog.mark, key, "failed", error=message)


@dg.asset_check(asset=speaker_labels, blocking=True,
                description="Per video, on the stored labels: every segment has text, a speaker, start < end, lies inside "
                "the audio, is in order, overlaps the previous one by at most 0.25 s and lasts at most 60 s. "
                "speaker_labels already repaired or dropped each segment that broke a rule, so this is the net "
                "under that judgement: a video that still breaks one is marked failed (rule and segment in "
                "`sources.error`) and left out of embeddings; the others go on. Fails (WARN) listing those videos.")
def segment_quality(context: dg.AssetCheckExecutionContext, platform: Platform) -> dg.AssetCheckResult:
    files = platform.files
    problems: dict[str, list[str]] = {}
    with platform.db() as database:
        keys = _checked_keys(context, database)
        for key in keys:
            try:
                found = segment_problems(files.read_labels(key), files.read_transcript(key).duration_s)
            except Exception as exc:  # one unreadable video is that video's problem, not the run's
                found = [f"labels unreadable ({type(exc).__name__}: {exc})"]
            if found:
                problems[key] = found
        _fail_videos(context, database, "segment_quality", problems,
                     "not stored; speaker_labels judged these segments sound, so a re-run fails the same way: "
                     "a bug to report")
    return _result(problems, len(keys))


@dg.asset_check(asset=embeddings, blocking=True,
                description="Rows in Postgres equal the upstream chunk count for each video (a video that differs "
                "is marked failed, WARN); every row has a vector of the serving model, and every stored vector of a "
                "live model has that model's dimension and unit norm (ERROR: a wrong model is every video's problem).")
def stored_segments(context: dg.AssetCheckExecutionContext, platform: Platform) -> dg.AssetCheckResult:
    files = platform.files
    problems: dict[str, list[str]] = {}
    vector_errors = False
    with platform.db() as database:
        keys = _checked_keys(context, database)
        live = database.run(embedding_models.live)
        for key in keys:
            rows = database.run(segments.count, key)
            expected = len(chunk(files.read_labels(key)))
            found = [] if rows == expected else [f"{rows} rows in Postgres, {expected} upstream"]
            wrong = []
            for model in live:
                vectors = database.run(embedding_models.vectors_of, model, key)
                if model.state == "serving" and len(vectors) != rows:
                    wrong.append(f"{rows - len(vectors)} of {rows} rows lack a {model.name} vector")
                wrong += [f"{model.name}: {p}" for p in vector_problems(vectors, model.dim)]
            vector_errors |= bool(wrong)
            if found + wrong:
                problems[key] = found + wrong
        if not vector_errors:
            _fail_videos(context, database, "stored_segments", problems, "a re-run replaces its rows")
    return _result(problems, len(keys), dg.AssetCheckSeverity.ERROR if vector_errors else dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=embeddings,
                description="Hours of audio per hour of this run (audio / wall time since the run started) "
                "against CHAFFEE_MIN_X_REALTIME. Warns, never blocks.")
def throughput(context: dg.AssetCheckExecutionContext, platform: Platform) -> dg.AssetCheckResult:
    with platform.db() as database:
        audio_s = database.execute(
            "SELECT coalesce(sum(duration_s), 0) FROM sources WHERE video_id = ANY(%s) AND status = 'done'",
            (list(context.partition_keys),))[0][0]
    started = context.instance.get_run_stats(context.run.run_id).start_time or time.time()
    wall = max(time.time() - started, 1e-6)
    floor = platform.settings.min_x_realtime
    x = audio_s / wall
    return dg.AssetCheckResult(
        passed=x >= floor,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"x_realtime": round(x, 2), "h_audio_per_h": round(x, 2), "floor": floor,
                  "audio_s": round(audio_s, 1), "run_wall_s": round(wall, 1)},
    )
