"""`chaffee`: ingest through Dagster, run the engine on one file, search, stats, the dev UI."""

from __future__ import annotations

import atexit
import gc
import json
import logging
import os
import sys
import warnings
from pathlib import Path

import click

from chaffee_assets import cli_embeddings, cli_search
from chaffee_assets.settings import REPO_ROOT, get_settings

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*pkg_resources.*")
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
# Shutdown garbage-collects every object of the ~4,000 modules torch, transformers and scipy bring in:
# 1.5 s per process. Frozen objects are skipped by that pass; the process exit frees them all the same.
atexit.register(gc.freeze)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log engine details.")
def main(verbose: bool) -> None:
    """chaffee_assets: a channel's talks into a speaker-attributed, searchable transcript corpus."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--source", "kind", type=click.Choice(["youtube", "rss", "local"]), default="local", show_default=True)
@click.option("--path", "folder", type=click.Path(file_okay=False, path_type=Path), help="Folder (local source).")
@click.option("--channel", help="Channel or playlist URL (youtube source).")
@click.option("--feed", help="Feed URL (rss source).")
@click.option("--limit", type=int, help="At most N videos.")
@click.option("--skip-shorts/--no-skip-shorts", default=True, show_default=True)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only videos published on or after this day.")
@click.option("--voices-dir", type=click.Path(file_okay=False, path_type=Path), help="Speaker profiles (VOICES_DIR).")
@click.option("--force", is_flag=True, help="Re-process videos already ingested (their rows are replaced).")
@click.option("--store-flagged", is_flag=True,
              help="Store a video whose segments fail the quality judgement, flagged, instead of refusing it "
              "(CHAFFEE_STORE_FLAGGED).")
def ingest(kind, folder, channel, feed, limit, skip_shorts, since, voices_dir, force, store_flagged) -> None:
    """List a source, add new videos as partitions and materialize all five assets for them."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from chaffee_assets import runtime
    from chaffee_assets.definitions import defs
    from chaffee_assets.defs.ahead import materialize_ahead
    from chaffee_assets.defs.runner import add_partitions, materialize
    from chaffee_assets.store import catalog, db

    if voices_dir:
        os.environ["VOICES_DIR"] = str(voices_dir.resolve())
    # raw_audio checks the filters again on each video's full metadata: it reads them from the settings
    os.environ["CHAFFEE_SKIP_SHORTS"] = "1" if skip_shorts else "0"
    if since:
        os.environ["CHAFFEE_SINCE"] = since.date().isoformat()
    if store_flagged:
        os.environ["CHAFFEE_STORE_FLAGGED"] = "1"
    settings = get_settings()
    listed = _list_videos(kind, folder, channel if kind == "youtube" else feed, limit, settings)
    runtime.prepare(settings)
    instance = runtime.instance()
    with db.session(settings) as conn:
        catalog.register(conn, listed)
        status = catalog.statuses(conn, [v.video_id for v in listed])
    keys = [v.video_id for v in listed]
    add_partitions(instance, keys)
    todo = keys if force else [k for k in keys if status.get(k) != "done"]
    click.echo(f"{len(listed)} videos listed, {len(keys) - len(todo)} already ingested, {len(todo)} to process")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task("ingesting videos", total=len(todo))
        durations = {v.video_id: v.duration_s for v in listed}
        if settings.executor == "in_process":  # downloads in a process of their own, ahead of the models
            outcomes, overlap = materialize_ahead(defs, instance, todo, batch_size=settings.videos_per_run,
                                                  durations=durations, on_run=lambda o: bar.advance(task, len(o.keys)))
        else:
            outcomes = materialize(defs, instance, todo, batch_size=settings.videos_per_run, durations=durations,
                                   on_run=lambda o: bar.advance(task, len(o.keys)))
            overlap = None
    if overlap is not None:
        click.echo(f"downloads ahead: {overlap.download_runs} download runs, {overlap.process_runs} process runs; "
                   f"first audio after {overlap.first_wait_s:.1f} s, then the models waited {overlap.wait_s:.1f} s "
                   f"of {overlap.wait_s + overlap.process_s:.1f} s ({overlap.wait_share:.1%}); "
                   f"peak {overlap.peak_ahead_mb:.0f} MB downloaded ahead")
    failed = _report(settings, keys, {k: o for o in outcomes for k in o.keys})
    sys.exit(1 if failed else 0)


def _list_videos(kind: str, folder: Path | None, url: str | None, limit: int | None, settings):
    """The source's videos after its filters (local: every media file in the folder)."""
    if kind == "local":
        if folder is None:
            raise click.UsageError("--source local needs --path DIR")
        from chaffee_assets.sources.local import LocalSource

        return LocalSource(folder).list()[: limit or None]
    if not url:
        raise click.UsageError(f"--source {kind} needs {'--channel' if kind == 'youtube' else '--feed'} URL")
    from chaffee_assets.sources import DownloadError
    from chaffee_assets.sources.filters import Filters
    from chaffee_assets.sources.rss import RssSource
    from chaffee_assets.sources.youtube import YouTubeSource

    source = (YouTubeSource if kind == "youtube" else RssSource)(
        url, filters=Filters.from_settings(settings, limit=limit), settings=settings)
    try:
        listing = source.scan()
    except DownloadError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{listing.listed} entries listed, {len(listing.rejected)} left out by the filters, "
               f"{len(listing.invalid)} with an invalid id")
    return listing.videos


def _report(settings, keys: list[str], runs: dict) -> int:
    """One line per video (segments and speakers, or why it stopped); returns how many failed. runs: the
    RunOutcome that processed each video this time."""
    from chaffee_assets.store import db, segments

    with db.session(settings) as conn:
        rows = conn.execute(
            """SELECT s.video_id, s.status, s.error, s.duration_s, count(g.id),
                      coalesce(string_agg(DISTINCT g.speaker, ', '), ''), s.metadata->'quality'->>'flagged'
               FROM sources s LEFT JOIN segments g ON g.source_id = s.id
               WHERE s.video_id = ANY(%s) GROUP BY s.id ORDER BY s.id""",
            (keys,),
        ).fetchall()
        total = segments.count(conn)
    failed = refused = 0
    for video_id, state, error, seconds, count, speakers, flagged in rows:
        if state == "done":
            click.echo(f"  {video_id:<32} {seconds or 0:7.1f}s  {count:4d} segments  speakers: {speakers}"
                       + (f"  FLAGGED: {flagged}" if flagged else ""))
        elif state == "skipped":  # a filter decided on the full metadata (short, live, members-only)
            click.echo(f"  {video_id:<32} SKIPPED: {error}")
        else:
            failed += 1
            refused += " refused video " in (error or "")
            click.echo(f"  {video_id:<32} {state.upper()}: {error or _why_unfinished(state, runs.get(video_id))}")
    click.echo(f"{total} segments in the database")
    if refused:
        click.echo(f"{refused} video(s) refused by the segment-quality judgement: a re-run refuses them again; "
                   "`chaffee ingest --store-flagged` stores them with the defect flagged")
    return failed


def _why_unfinished(state: str, run) -> str:
    """Why a video with no error of its own is not stored: the run that had it stopped early."""
    if run is None:
        return f"left at '{state}' by an earlier run; ingest it again (--force re-runs stored videos)"
    because = "; ".join(run.step_errors) or "it did not run every step"
    return f"left at '{state}': run {run.run_id} stopped before storing it ({because}); ingest it again"


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the transcript JSON (engine only, no database).")
@click.option("--num-speakers", type=int, help="Skip speaker-count estimation.")
@click.option("--backend", "asr_backend", type=click.Choice(["ctranslate2", "torch", "auto"]),
              help="ASR backend (default: CHAFFEE_ASR_BACKEND, auto unless set: ctranslate2 on CPU, torch on CUDA).")
def transcribe(file: Path, as_json: bool, num_speakers: int | None, asr_backend: str | None) -> None:
    """Transcribe one file with speakers (engine only)."""
    from chaffee_assets.speech import audio, models
    from chaffee_assets.speech.speakers.attribution import attribute, find_turns
    from chaffee_assets.speech.speakers.voice import find_profile, load_profiles

    settings = get_settings()
    samples = audio.load(file)
    profiles, problems = load_profiles(settings.voices_dir)
    for p in problems:
        click.echo(f"warning: {p}", err=True)
    try:
        model = models.transcriber(settings, asr_backend)
    except ValueError as exc:  # an unknown backend or dtype name, a model that cannot be converted
        raise click.UsageError(str(exc)) from None
    transcript = model.transcribe(samples)
    found = find_turns(samples, models.voice_encoder(settings), find_profile(profiles, settings.host_name), num_speakers=num_speakers)
    labelled = attribute(transcript.segments, found, profiles)
    if as_json:
        doc = {
            "duration_s": round(transcript.duration_s, 3),
            "asr_backend": model.backend,
            "asr_model": model.model_name,
            "asr_dtype": model.dtype,
            "speaker_path": found.path,
            "speaker_reason": found.reason,
            "segments": [
                {"start": s.start, "end": s.end, "text": s.text, "speaker": s.speaker, "speaker_conf": s.speaker_conf,
                 "words": [{"start": w.start, "end": w.end, "word": w.word, "speaker": w.speaker} for w in s.words]}
                for s in labelled
            ],
        }
        click.echo(json.dumps(doc, indent=1))
        return
    for s in labelled:
        click.echo(f"[{s.start:7.2f} - {s.end:7.2f}] {s.speaker}: {s.text}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--num-speakers", type=int, help="Known number of speakers (otherwise estimated).")
@click.option("--rttm", "rttm_out", type=click.Path(dir_okay=False, path_type=Path), help="Write RTTM here.")
@click.option("--backend", type=click.Choice(["offline", "pyannote", "auto"]),
              help="Diarizer (default: CHAFFEE_DIARIZER, offline unless set).")
def diarize(file: Path, num_speakers: int | None, rttm_out: Path | None, backend: str | None) -> None:
    """Diarize one file (engine only); RTTM on stdout by default."""
    from chaffee_assets.speech import audio, models
    from chaffee_assets.speech.speakers.attribution import run_diarizer
    from chaffee_assets.speech.speakers.diarize import to_rttm
    from chaffee_assets.speech.speakers.pyannote_adapter import PyannoteUnavailable
    from chaffee_assets.speech.speakers.regions import speaker_regions
    from chaffee_assets.speech.speakers.voice import find_profile, load_profiles

    settings = get_settings()
    host = find_profile(load_profiles(settings.voices_dir)[0], settings.host_name)  # the speaker-count prior
    samples = audio.load(file)
    found = speaker_regions(samples)
    try:
        result, _used, _fallback = run_diarizer(samples, models.voice_encoder(settings), backend, num_speakers=num_speakers,
                                                regions=found.speech, voiced=found.voiced, host=host)  # a fallback is logged
    except PyannoteUnavailable as exc:
        raise click.ClickException(f"{file.name}: {exc}") from None
    text = to_rttm(result.turns, file.stem)
    if rttm_out:
        rttm_out.write_text(text)
        click.echo(f"{len(result.turns)} turns, {result.n_speakers} speakers -> {rttm_out}", err=True)
    else:
        click.echo(text, nl=False)


@main.command(name="eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ref-stm", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Reference transcript (STM).")
@click.option("--ref-text", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Reference transcript (plain text).")
@click.option("--ref-rttm", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Reference speaker turns (RTTM).")
@click.option("--num-speakers", type=int, help="Known number of speakers (otherwise estimated, as in production).")
@click.option("--json", "as_json", is_flag=True)
def eval_(file: Path, ref_stm: Path | None, ref_text: Path | None, ref_rttm: Path, num_speakers: int | None,
          as_json: bool) -> None:
    """Score the production path on one file: WER, DER (collars 0 and 0.25), attribution accuracy."""
    from chaffee_assets.bench import evaluate

    if (ref_stm is None) == (ref_text is None):
        raise click.UsageError("give exactly one of --ref-stm or --ref-text")
    reference = evaluate.load_stm(ref_stm) if ref_stm else ref_text.read_text()
    doc = evaluate.evaluate_file(file, reference, ref_rttm, get_settings(), num_speakers=num_speakers)
    if as_json:
        click.echo(json.dumps(doc, indent=1))
        return
    d, acc = doc["wer_details"], doc["attribution_accuracy"]
    click.echo(f"WER {doc['wer']:.3f} ({d['substitutions']} sub, {d['deletions']} del, {d['insertions']} ins "
               f"/ {d['ref_words']} words)")
    click.echo(f"DER {doc['der']['collar_0']:.3f} (collar 0), {doc['der']['collar_0.25']:.3f} (collar 0.25); "
               f"{doc['speakers_estimated']} speakers, {doc['speaker_path']} via {doc['diarizer'] or 'fast-path'}")
    click.echo(f"attribution accuracy {'n/a (reference names unknown)' if acc is None else f'{acc:.3f}'}")


@main.group()
def voices() -> None:
    """Speaker profiles in voices/."""


@voices.command("enroll")
@click.argument("name")
@click.argument("audio_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--voices-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: VOICES_DIR or voices/.")
def voices_enroll(name: str, audio_files: tuple[Path, ...], voices_dir: Path | None) -> None:
    """Build voices/NAME.json from clips where only NAME speaks."""
    from chaffee_assets.speech import audio, models
    from chaffee_assets.speech.speakers.voice import enroll
    from chaffee_assets.speech.vad import speech_regions

    settings = get_settings()
    clips = [(f.name, audio.load(f)) for f in audio_files]
    profile = enroll(name, clips, models.voice_encoder(settings), speech_regions)
    target = (voices_dir or settings.voices_dir) / f"{name}.json"
    profile.save(target)
    click.echo(f"enrolled {name}: {len(clips)} clips, threshold {profile.threshold:.3f} -> {target}")


# search, serve, eval-search, bench-search, bench-model-change: chaffee_assets/cli_search.py
for _command in (cli_search.search, cli_search.serve, cli_search.eval_search, cli_search.bench_search,
                 cli_search.bench_model_change):
    main.add_command(_command)
main.add_command(cli_embeddings.embeddings)  # model changes: chaffee_assets/cli_embeddings.py


@main.command()
@click.option("--json", "as_json", is_flag=True)
def stats(as_json: bool) -> None:
    """Videos, audio hours, elapsed time and hours of audio per hour."""
    from chaffee_assets.store import db, segments

    with db.session(get_settings()) as conn:
        figures = segments.stats(conn)
    if as_json:
        click.echo(json.dumps(figures))
        return
    for key, value in figures.items():
        click.echo(f"{key:>15}: {value}")


@main.command()
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Folder of audio (or with audio/ and enroll/ subfolders, as scripts/synth_corpus.py writes).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Report path; .md and .png are written beside it.")
@click.option("--repeat", type=click.IntRange(1), default=1, show_default=True,
              help="Rounds of the three modes, interleaved; each mode reports its fastest round.")
@click.option("--backends", default="", help="Other ASR backends to measure too (comma-separated: torch, "
              "ctranslate2): their ASR-only ceiling and pipeline, interleaved in the same rounds.")
@click.option("--naive/--no-naive", default=True, show_default=True,
              help="Also run the old per-video design (faster-whisper: on a CUDA 13 GPU it runs on the CPU).")
@click.option("--source-rate", type=click.FloatRange(0), default=0.0, metavar="BYTES_PER_S",
              help="Also ingest the corpus from an RSS feed on 127.0.0.1, at loopback speed and capped at this "
              "many bytes/s per connection (0.2 s latency, 0.3 s first byte), in the same rounds.")
@click.option("--source-share", type=click.FloatRange(0), default=0.0, metavar="FRACTION",
              help="Instead of --source-rate: the per-connection rate as this fraction of the ASR-only speed "
              "measured in the first round (0.25: the GPU outruns one download 4 to 1).")
@click.option("--faults", is_flag=True, help="With --source-rate: one 429 (Retry-After 1 s) and one connection "
              "cut mid-body per file in the throttled run.")
def bench(corpus: Path, json_out: Path, repeat: int, backends: str, naive: bool, source_rate: float,
          source_share: float, faults: bool) -> None:
    """ASR-only ceiling, the old per-video design and the Dagster pipeline on one corpus, in one run."""
    from chaffee_assets.bench import harness, report

    doc = harness.run(corpus, json_out, repeat, tuple(b.strip() for b in backends.split(",") if b.strip()), naive,
                      source_rate, faults, source_share)
    click.echo(report.markdown(doc))


@main.command(name="eval-speakers")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="An interview set as scripts/synth_interviews.py writes it (audio/ and enroll/).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report here (and the table as .md beside it).")
def eval_speakers(corpus: Path, json_out: Path | None) -> None:
    """DER (collar 0.25) and host attribution of the speaker path on every interview of a set."""
    from chaffee_assets.bench import speakers
    from chaffee_assets.speech import models

    doc = speakers.evaluate_set(corpus, models.voice_encoder(get_settings()))
    table = speakers.markdown(doc)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(doc, indent=1) + "\n")
        json_out.with_suffix(".md").write_text(table)
    click.echo(table)


@main.command(name="bundle")
@click.option("--target-freeze", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The target's `pip list --format=freeze` (or one package name a line): what it already has.")
@click.option("--python", "python_version", default="3.12", show_default=True, help="The target's Python (major.minor).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--part-mib", type=click.IntRange(1), default=60, show_default=True)
def bundle_(target_freeze: Path, python_version: str, out: Path, part_mib: int) -> None:
    """An offline installation for a machine with no network: wheels it lacks, install.sh, in parts."""
    from chaffee_assets import bundle

    target = bundle.Target.from_freeze(target_freeze.read_text(), python_version)
    manifest = bundle.build(REPO_ROOT, out, target, part_mib)
    total = sum(manifest["wheels"].values())
    click.echo(f"{len(manifest['wheels'])} wheels, {total / 2**20:.1f} MiB, for Python {python_version}")
    for part in manifest["parts"]:
        click.echo(f"  {out / part['file']}  {part['bytes'] / 2**20:.1f} MiB")
    click.echo("send the parts, manifest.json and install.sh; there: bash install.sh PREFIX")


@main.group(name="db")
def db_group() -> None:
    """The database (embedded unless DATABASE_URL is set)."""


@db_group.command("url")
def db_url() -> None:
    """Print the connection URL (starts the embedded server if needed)."""
    from chaffee_assets.store import db

    click.echo(db.database_url(get_settings()))


@db_group.command("stop")
def db_stop() -> None:
    """Stop the embedded server."""
    from chaffee_assets.store import db

    click.echo("stopped" if db.stop_embedded(get_settings()) else "not running")


@main.command()
@click.option("--port", default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback by default).")
def dev(port: int, host: str) -> None:
    """Embedded Postgres + Dagster UI and daemon; Ctrl-C (or SIGTERM) stops everything."""
    import socket
    import subprocess

    from chaffee_assets import runtime
    from chaffee_assets.store import db

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror}): pick another --port")
    settings = get_settings()
    embedded = not settings.database_url

    _stop_on_signals()
    proc, code = None, 0
    try:
        runtime.prepare(settings)  # starts the embedded Postgres unless DATABASE_URL is set
        runtime.instance()
        cmd = [sys.executable, "-m", "dagster", "dev", "-h", host, "-p", str(port),
               "-w", str(REPO_ROOT / "workspace.yaml")]
        click.echo(f"instance: {os.environ['DAGSTER_HOME']} (the repo's dagster.yaml); database: "
                   f"{'embedded under ' + str(settings.pgdata) if embedded else db.redact(settings.database_url)}")
        click.echo(f"Dagster UI on http://{host}:{port} (Ctrl-C to stop)")
        # Its own session: a terminal's Ctrl-C reaches only this process, which forwards exactly one SIGINT.
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, start_new_session=True)
        code = proc.wait()
    except KeyboardInterrupt:
        if proc is not None:
            click.echo("stopping the Dagster UI and daemon...")
            _stop_tree(proc)
    finally:
        if embedded and db.stop_embedded(settings):
            click.echo("embedded Postgres stopped")
    sys.exit(code)


@main.group()
def cluster() -> None:
    """Celery workers for the ingest job (CHAFFEE_EXECUTOR=celery, broker CHAFFEE_BROKER_URL)."""


@cluster.command("worker")
@click.argument("name")
@click.option("--queues", default="gpu", show_default=True, help="Comma-separated: gpu, io, cpu.")
@click.option("--gpu", "gpu_index", type=int, help="The one GPU this worker uses (CUDA_VISIBLE_DEVICES).")
@click.option("--concurrency", default=1, show_default=True, help="Steps at once (a gpu worker: always 1).")
def cluster_worker(name: str, queues: str, gpu_index: int | None, concurrency: int) -> None:
    """Become a celery worker named NAME on this box; it shares CHAFFEE_HOME / DATABASE_URL with the submitter."""
    from chaffee_assets.cluster import worker_argv

    try:
        argv = worker_argv(name, tuple(q for q in queues.split(",") if q), concurrency)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if gpu_index is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_index)
    os.environ["CHAFFEE_EXECUTOR"] = "celery"
    os.execv(argv[0], argv)


@cluster.command("init")
def cluster_init() -> None:
    """Once per deployment: migrate the database, create Dagster's tables, set the pool limits."""
    from chaffee_assets import runtime

    settings = get_settings()
    runtime.prepare(settings)
    runtime.instance()
    click.echo("database migrated; pools: " + ", ".join(f"{k}={v}" for k, v in runtime.pool_limits(settings).items()))


@cluster.command("demo")
@click.option("--path", "folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default="demo/audio",
              show_default=True)
@click.option("--videos-per-run", default=1, show_default=True, help="Smaller runs overlap more across workers.")
def cluster_demo(folder: Path, videos_per_run: int) -> None:
    """Redis and two workers (gpu0: gpu; io0: io + cpu) on 127.0.0.1, `chaffee ingest --force` of FOLDER
    through them, which worker ran each step; then everything stopped."""
    import time

    from chaffee_assets import cluster as local
    from chaffee_assets import runtime
    from chaffee_assets.store import db

    _stop_on_signals()
    settings = get_settings()
    runtime.prepare(settings)
    try:
        with local.local_cluster(local.DEMO_WORKERS, settings.home / "cluster") as up:
            click.echo(f"broker {up.broker_url}; workers: " + ", ".join(
                f"{name} ({'+'.join(queues)})" for name, queues in local.DEMO_WORKERS.items()))
            since = time.time()
            code, wall = local.ingest(up, folder.resolve(), videos_per_run)
        for line in local.report(runtime.instance(), since, wall):
            click.echo(line)
        click.echo(f"ingest through the cluster: {wall:.1f} s wall; Redis and workers stopped")
    finally:
        if not settings.database_url:
            db.stop_embedded(settings)
    sys.exit(code)


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt here, also when this process started with SIGINT ignored
    (a background job of a non-interactive shell, nohup, some supervisors): Python then installs no handler
    of its own, and the children would inherit the ignored SIGINT too."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _stop_tree(proc, timeout_s: float = 60.0) -> None:
    """SIGINT to `dagster dev` (it stops its webserver, daemon and code servers), then kill whatever
    of its process tree (run workers included) is still there after the timeout."""
    import signal

    from chaffee_assets.processes import stop_tree

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stop_tree(proc, timeout_s)


if __name__ == "__main__":
    main()
