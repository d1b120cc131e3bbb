import contextlib

import dagster as dg

from chaffee_assets.defs.assets.transcripts import transcripts
from chaffee_assets.defs.batch import Stopwatch, active_keys, each_video, gpu_sampling, summary
from chaffee_assets.defs.partitions import video_asset
from chaffee_assets.defs.resources import Platform
from chaffee_assets.speech import audio, models
from chaffee_assets.speech.speakers import labels
from chaffee_assets.speech.speakers.attribution import MONOLOGUE, find_turns, monologue_turns
from chaffee_assets.speech.vad import speech_regions


@video_asset(
    stage="diarize",
    deps=[transcripts],
    pool="gpu",
    kinds={"pytorch", "parquet"},
    description="Who speaks when: the monologue fast-path record when every sampled window is the host, "
    "otherwise offline diarization turns (VAD -> voice windows -> KMeans, speaker count estimated). "
    "Speech regions come from the VAD pass the transcripts stage already made; the monologue checks "
    "of all the run's videos share one voice-encoder pass.",
)
def diarization(context: dg.AssetExecutionContext, platform: Platform) -> dg.MaterializeResult:
    clock, files = Stopwatch(), platform.files
    encoder = models.voice_encoder(platform.settings)
    _profiles, host = platform.profiles(context.log)
    compute = 0.0
    with gpu_sampling(platform) as gpu, platform.db() as database:
        keys = active_keys(context, database, "diarization")
        checks, read = batch_checks(context, keys, files, encoder, host)

        def split(video_id: str) -> dict:
            nonlocal compute
            check = checks.get(video_id)
            if check is not None and check.taken:  # decided by the batch: the audio is not read again
                regions, audio_s = read[video_id]
                found = monologue_turns(regions, host, check, check.compute_s)
            else:
                samples = audio.load(files.audio(video_id))
                audio_s = samples.size / audio.SAMPLE_RATE
                found = find_turns(samples, encoder, host, speech_probs=files.read_speech_probs(video_id),
                                   check=check)
            compute += found.compute_s
            files.write_turns(video_id, found)
            context.log.info(f"{video_id}: {found.path} ({found.reason})")
            return {"audio_s": audio_s, "fast_path": found.path == MONOLOGUE,
                    "speakers": found.n_speakers, "compute_s": found.compute_s}

        done = each_video(context, database, "diarization", split, keys)
    meta = summary(done, context.partition_keys, clock.seconds, compute)
    meta.update(fast_path_figures(done.values()))
    meta.update(gpu.figures())  # NVML's figures and device-busy share on a GPU; none on CPU
    return dg.MaterializeResult(metadata=meta)


def batch_checks(context: dg.AssetExecutionContext, keys: list[str], files, encoder, host) -> tuple[dict, dict]:
    """Every video's monologue check in one voice-encoder pass, and each video's (speech regions, audio
    seconds) as read for it. No checks when that pass fails: each video is then checked alone by
    find_turns."""
    read: dict[str, tuple] = {}

    def readable():  # a video that cannot be read here fails again in split(), which records why
        for key in keys:
            with contextlib.suppress(Exception):
                samples = audio.load(files.audio(key))
                read[key] = (speech_regions(samples, files.read_speech_probs(key)), samples.size / audio.SAMPLE_RATE)
                yield key, samples, read[key][0]

    try:
        return labels.monologue_checks(readable(), encoder, host), read
    except Exception as exc:
        context.log.warning(f"batched monologue checks failed ({type(exc).__name__}: {exc}); checking each video alone")
        return {}, read


def fast_path_figures(figures) -> dict:
    """How many videos skipped diarization, and the time that saved: their audio at this run's measured
    diarization cost per audio second, minus what their checks cost (no diarized video: nothing claimed)."""
    fast = [f for f in figures if f["fast_path"]]
    full = [f for f in figures if not f["fast_path"]]
    full_audio = sum(f["audio_s"] for f in full)
    rate = sum(f["compute_s"] for f in full) / full_audio if full_audio else 0.0
    saved = rate * sum(f["audio_s"] for f in fast) - sum(f["compute_s"] for f in fast) if rate else 0.0
    return {"fast_path_videos": len(fast), "diarized_videos": len(full), "fast_path_saved_s": round(max(saved, 0.0), 2)}
