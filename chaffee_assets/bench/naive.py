"""The design this project replaces, rebuilt from the same engine parts so only the architecture differs:
per video, sequential non-batched ASR, diarization always, one embedding call per video, row-by-row
INSERTs with a commit per row."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg

from chaffee_assets.settings import Settings
from chaffee_assets.speech import audio
from chaffee_assets.speech.asr.backends import resolve_model
from chaffee_assets.speech.records import Segment, Word
from chaffee_assets.speech.speakers.attribution import attribute
from chaffee_assets.speech.speakers.diarize import diarize
from chaffee_assets.speech.speakers.voice import Profile, VoiceEncoder
from chaffee_assets.speech.text.chunks import chunk
from chaffee_assets.speech.text.embed import TextEmbedder

TABLE = """CREATE TABLE IF NOT EXISTS naive_segments (
  id bigserial PRIMARY KEY, video text, start_s float8, end_s float8, speaker text, text text, embedding vector(384))"""


def run(files: list[Path], settings: Settings, url: str, profiles: dict[str, Profile]) -> dict:
    from faster_whisper import WhisperModel

    from chaffee_assets.speech.speakers.attribution import DIARIZED, SpeakerTurns

    stages = dict.fromkeys(["load", "decode", "asr", "diarize", "embed", "db"], 0.0)
    clock = time.perf_counter()
    model = WhisperModel(resolve_model(settings.asr_model), device=settings.device, compute_type=settings.compute_type,
                         cpu_threads=settings.cpu_threads)
    encoder = VoiceEncoder(device=settings.device)
    embedder = TextEmbedder(settings.embed_model, device=settings.device)
    stages["load"] = time.perf_counter() - clock
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.execute(TABLE)
    conn.execute("TRUNCATE naive_segments")
    rows = 0
    for path in files:
        t = time.perf_counter()
        samples = audio.load(path)
        stages["decode"] += time.perf_counter() - t

        t = time.perf_counter()
        raw, _ = model.transcribe(samples, language="en", beam_size=settings.beam_size, word_timestamps=True,
                                  vad_filter=True)
        segments = [Segment(s.start, s.end, s.text.strip(), s.avg_logprob, s.no_speech_prob, s.compression_ratio,
                            [Word(w.start, w.end, w.word.strip(), w.probability) for w in s.words or []]) for s in raw]
        stages["asr"] += time.perf_counter() - t

        t = time.perf_counter()
        d = diarize(samples, encoder)
        turns = SpeakerTurns(DIARIZED, "always diarize", d.turns, {k: v.tolist() for k, v in d.centroids.items()})
        units = chunk(attribute(segments, turns, profiles))
        stages["diarize"] += time.perf_counter() - t

        t = time.perf_counter()
        vectors = embedder.embed([u.text for u in units])
        stages["embed"] += time.perf_counter() - t

        t = time.perf_counter()
        for u, v in zip(units, vectors):
            conn.execute("INSERT INTO naive_segments (video, start_s, end_s, speaker, text, embedding)"
                         " VALUES (%s, %s, %s, %s, %s, %s::vector)", (path.stem, u.start, u.end, u.speaker, u.text,
                                                                      str(v.tolist())))
            rows += 1
        stages["db"] += time.perf_counter() - t
    conn.close()
    wall = time.perf_counter() - clock
    return {"wall_s": wall, "stages": stages, "rows": rows}
