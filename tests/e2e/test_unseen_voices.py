"""The run that once stored nothing: 3 monologues and 1 interview in voices the demo does not have (host
US male, guest Scottish female with 1-2 s turns), the host enrolled as `HOST` while CHAFFEE_HOST_NAME
is `host`, and one monologue with a segment defect the boundary repair cannot fix. Through `chaffee
ingest` (real Dagster runs, real models, embedded Postgres): three videos stored, one failed and named."""

import dataclasses
import os
import random
import shutil
import sys

import pytest
from click.testing import CliRunner

from chaffee_assets.bench import evaluate
from chaffee_assets.cli import main
from chaffee_assets.settings import REPO_ROOT, get_settings
from chaffee_assets.sources.local import LocalSource
from chaffee_assets.speech.speakers.diarize import Turn
from chaffee_assets.speech.speakers.voice import VoiceEncoder, enroll
from chaffee_assets.speech.vad import speech_regions
from chaffee_assets.store import segments
from chaffee_assets.store.files import Files

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng (make setup) generates the voices")
PLAN = [("talk-a", [], "host_only", 30), ("talk-b", [], "host_only", 30), ("talk-c", [], "host_only", 30),
        ("chat", ["G_SCOT_F"], "short", 40)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """media/ with the four files, voices/HOST.json, and each file's reference turns."""
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    import soundfile as sf
    import synth_interviews as synth

    root = tmp_path_factory.mktemp("unseen")
    media, voices = root / "media", root / "voices"
    media.mkdir()
    speak, rng, turns = synth.Synth(root, synth.VOICES), random.Random(5), {}
    for stem, guests, pattern, seconds in PLAN:
        samples, turns[stem] = synth.interview(speak, rng, "H_NYC", guests, pattern, seconds)
        sf.write(media / f"{stem}.flac", samples, synth.SR, subtype="PCM_16")
    clips = [(f"enroll-{i}", clip) for i, clip in enumerate(synth.enrollment(speak, "H_NYC"))]
    enroll("HOST", clips, VoiceEncoder(), speech_regions).save(voices / "HOST.json")
    return media, voices, turns


@pytest.fixture(scope="module")
def ingested(corpus, dagster_env):
    """`chaffee ingest` of the four, talk-b's transcript given a duplicated decode (two segments whose
    words claim the same speech) as stored, before speaker labelling reads it."""
    media, voices, _turns = corpus
    ids = {v.title: v.video_id for v in LocalSource(media).list()}
    real = Files.read_transcript

    def read_transcript(self, video_id):
        t = real(self, video_id)
        if video_id == ids["talk-b"]:
            first = t.segments[0]
            shifted = [dataclasses.replace(w, start=w.start + 0.3, end=w.end + 0.3) for w in first.words]
            twin = dataclasses.replace(first, start=first.start + 0.3, end=first.end + 0.3, words=shifted)
            t = dataclasses.replace(t, segments=[first, twin, *t.segments[1:]])
        return t

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Files, "read_transcript", read_transcript)
        for name in ("VOICES_DIR", "CHAFFEE_SKIP_SHORTS"):  # ingest sets them for this process: undone after
            patch.setenv(name, os.environ.get(name, ""))
        result = CliRunner().invoke(main, ["ingest", "--source", "local", "--path", str(media),
                                           "--voices-dir", str(voices)])
    return ids, result


def test_a_duplicated_decode_is_dropped_alone_and_every_video_stored(ingested, conn):
    """talk-b's stored transcript has a twin segment claiming the same speech as the first: the twin breaks
    the overlap rule and is dropped with its reason (quality.judge); the video is stored, where before #20
    the whole video was refused."""
    ids, result = ingested
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("  ")}
    for name in ("talk-a", "talk-b", "talk-c", "chat"):
        assert "segments" in lines[ids[name]] and "speakers: " in lines[ids[name]], result.output
    status = dict(conn.execute("SELECT video_id, status FROM sources WHERE video_id = ANY(%s)", (list(ids.values()),)))
    assert set(status.values()) == {"done"}
    assert all(segments.count(conn, ids[n]) > 0 for n in ("talk-a", "talk-b", "talk-c", "chat"))
    (quality,) = conn.execute("SELECT metadata->'quality' FROM sources WHERE video_id = %s", (ids["talk-b"],)).fetchone()
    [dropped] = quality["dropped_segments"]
    assert "segment 1 [" in dropped["why"] and "overlaps the previous" in dropped["why"]


def test_host_found_under_its_own_name_and_the_guest_told_apart(ingested, corpus, conn):
    ids, _ = ingested
    _media, _voices, turns = corpus
    speakers = dict(conn.execute(
        "SELECT s.video_id, array_agg(DISTINCT g.speaker ORDER BY g.speaker) FROM sources s"
        " JOIN segments g ON g.source_id = s.id GROUP BY s.video_id").fetchall())
    assert speakers[ids["talk-a"]] == speakers[ids["talk-c"]] == ["HOST"]  # the profile's own spelling
    assert speakers[ids["chat"]] == ["GUEST", "HOST"]
    files = Files(get_settings())
    assert files.read_turns(ids["talk-a"]).path == "monologue"  # CHAFFEE_HOST_NAME=host found HOST.json
    reference = evaluate.turns_annotation(
        [Turn(t["start"], t["end"], "HOST" if t["speaker"] == "H_NYC" else "GUEST") for t in turns["chat"]], "ref")
    words = [w for s in files.read_labels(ids["chat"]) for w in s.words]
    # words are ASR words, so a word at a turn edge can slip
    accuracy = evaluate.attribution_accuracy(reference, words, ["HOST", "GUEST"])
    print(f"chat: word attribution {accuracy:.3f}")
    assert accuracy >= 0.95
    hits = CliRunner().invoke(main, ["search", "anything", "--speaker", "host", "--json"])
    assert hits.exit_code == 0 and '"speaker": "HOST"' in hits.output  # --speaker ignores case
