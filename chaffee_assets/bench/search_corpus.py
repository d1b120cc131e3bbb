"""Texts to search, without audio: the demo's exact references, and videos laid out from the sentences the
generated corpora speak (scripts/synth_corpus.py topics and questions, scripts/interview_texts.py, the
stress corpus's grammar), chunked by the production chunker and stored through the production store."""

from __future__ import annotations

import importlib.util
import json
import random
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from chaffee_assets.settings import REPO_ROOT
from chaffee_assets.sources.base import Video
from chaffee_assets.speech.records import Segment
from chaffee_assets.speech.text.chunks import Chunk, chunk

SCRIPTS = REPO_ROOT / "scripts"
DEMO_REFS = REPO_ROOT / "demo" / "audio"
EPOCH = datetime(2018, 1, 1, tzinfo=timezone.utc)


@lru_cache(maxsize=None)
def script(name: str):
    """A module of scripts/ (their sentence banks), loaded by path: the scripts are not a package."""
    spec = importlib.util.spec_from_file_location(f"chaffee_scripts_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(SCRIPTS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


def topic_sentences() -> dict[str, list[str]]:
    return script("synth_corpus").TOPICS


def chunks_of(turns: list[tuple[str, float, float, str]]) -> list[Chunk]:
    """(speaker, start, end, text) turns -> the retrieval chunks ingest would store for them."""
    return chunk([Segment(start, end, text, 0.0, 0.0, 1.0, speaker=spk, speaker_conf=1.0)
                  for spk, start, end, text in turns])


def timed(lines: list[tuple[str, str]], rng: random.Random) -> list[tuple[str, float, float, str]]:
    """Times for (speaker, sentence) lines at ~15 characters a second with short pauses."""
    turns, at = [], 0.5
    for spk, text in lines:
        length = max(1.0, len(text) / 15)
        turns.append((spk, round(at, 2), round(at + length, 2), text))
        at += length + rng.uniform(0.3, 0.9)
    return turns


def demo_videos() -> list[tuple[Video, list[Chunk]]]:
    """The three demo videos from their exact references (.json turns), as if ASR had been perfect."""
    out = []
    for i, ref in enumerate(sorted(DEMO_REFS.glob("*.json"))):
        turns = json.loads(ref.read_text())["turns"]
        video = Video(f"demo-{ref.stem}", "youtube", f"https://www.youtube.com/watch?v=demo-{ref.stem}",
                      title=ref.stem.replace("-", " "), published_at=EPOCH + timedelta(days=30 * i))
        out.append((video, chunks_of([(t["speaker"].lower() if t["speaker"] == "HOST" else t["speaker"], t["start"],
                                        t["end"], t["text"]) for t in turns])))
    return out


def talk_videos(count: int, seed: int) -> list[tuple[Video, list[Chunk]]]:
    """Monologues and interviews over the health topics (the host repeats himself across videos, as on the
    channel), and talks on other subjects between them (interview_texts, stress grammar) as distractors."""
    rng = random.Random(seed)
    synth, stress = script("synth_corpus"), script("stress_corpus")
    other = script("interview_texts").LONG
    out = []
    for i in range(count):
        kind = ("monologue", "interview", "other")[i % 3]
        if kind == "monologue":
            lines = [("host", s) for s in rng.sample(synth.BANK, rng.randint(8, 14))]
        elif kind == "interview":
            lines = []
            for topic, question in rng.sample(synth.QUESTIONS, 3):
                lines.append(("GUEST", question))
                lines += [("host", s) for s in rng.sample(synth.TOPICS[topic], rng.randint(2, 4))]
        else:
            lines = [("GUEST" if j % 4 == 0 else "host", s) for j, s in enumerate(
                rng.sample(other, 6) + [stress.sentence(rng) for _ in range(6)])]
        video_id = f"talk-{seed}-{i:03d}"
        video = Video(video_id, "youtube", f"https://www.youtube.com/watch?v={video_id}", title=f"{kind} {i}",
                      published_at=EPOCH + timedelta(days=7 * i))
        out.append((video, chunks_of(timed(lines, rng))))
    return out


def store(conn, videos: list[tuple[Video, list[Chunk]]], embedder) -> int:
    """Register and write the videos (replacing earlier rows) with the embedder's vectors; returns rows."""
    from chaffee_assets.store import catalog, segments

    catalog.register(conn, [v for v, _ in videos])
    texts = [c.text for _, chunks in videos for c in chunks]
    vectors, at, batch = embedder.embed(texts), 0, {}
    for video, chunks in videos:
        batch[video.video_id] = (chunks, vectors[at:at + len(chunks)])
        at += len(chunks)
    return sum(segments.replace_many(conn, batch, embedder.model_name).values())


def fill(conn, talks: int, embedder, seed: int = 23) -> tuple[list, int]:
    """A scratch database migrated, emptied and filled with the demo's references and `talks` generated talks
    embedded by embedder (then the corpus's serving model); (videos, rows)."""
    from chaffee_assets.store import db

    db.migrate(conn)
    conn.execute("TRUNCATE segments, sources, embedding_models CASCADE")
    videos = demo_videos() + talk_videos(talks, seed=seed)
    return videos, store(conn, videos, embedder)
