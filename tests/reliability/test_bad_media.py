"""Bad media in one batch with good videos, through one real Dagster ingest of a folder.

Every bad file must end with a clear per-video error in `sources.error` (naming the video, the file and the
cause) or an honest empty result, and the good videos of the same run must be ingested with the rows a
clean run of them alone stores (audited, reported in the reliability table).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from chaffee_assets.bench.evaluate import wer
from chaffee_assets.definitions import defs
from chaffee_assets.defs.runner import add_partitions, materialize
from chaffee_assets.settings import get_settings
from chaffee_assets.sources.local import LocalSource
from chaffee_assets.store import catalog, db
from tests.reliability import media as m
from tests.reliability.conftest import audit, snapshot

CLIP_S = 16.0  # ends in the pause after the third sentence (15.5 s), so the script is exact
DEMO = "monologue-01.flac"

# file name -> what must happen to it: ("failed", words the error must contain) or ("empty", None)
BAD = {
    "zero-byte.mp3": ("failed", ["empty", "0 bytes"]),
    "truncated-flac.flac": ("failed", ["corrupt or truncated"]),
    "truncated-mp3.mp3": ("failed", ["truncated or corrupt", "declares"]),
    "truncated-mp4.mp4": ("failed", ["not a readable audio/video file"]),
    "corrupt-middle.flac": ("failed", ["truncated or corrupt", "declares"]),
    "notes-not-audio.mp3": ("failed", ["not a readable audio/video file"]),
    "png-renamed.mp4": ("failed", ["no audio stream"]),
    "silence.wav": ("empty", None),
    "music.flac": ("empty", None),
    "noise.ogg": ("empty", None),
}
GOOD = ["original-16k.flac", "stereo-16k.wav", "rate-8k.wav", "rate-44k.mp3", "rate-48k.m4a"]
FAMILY = {
    "zero-byte file": ["zero-byte.mp3"],
    "truncated file (first half)": ["truncated-flac.flac", "truncated-mp3.mp3", "truncated-mp4.mp4"],
    "corrupt file (random middle third)": ["corrupt-middle.flac"],
    "non-audio file (text as .mp3, PNG as .mp4)": ["notes-not-audio.mp3", "png-renamed.mp4"],
    "silence only": ["silence.wav"],
    "music / noise only": ["music.flac", "noise.ogg"],
    "stereo and 8 / 44.1 / 48 kHz": ["stereo-16k.wav", "rate-8k.wav", "rate-44k.mp3", "rate-48k.m4a"],
}


def _write_good(folder) -> None:
    clip = m.demo_clip(DEMO, CLIP_S)
    sf.write(folder / "original-16k.flac", clip, m.RATE)
    # speech on the left channel only, a quiet hiss on the right: the downmix must keep the speech
    right = m.noise(CLIP_S, m.RATE, seed=5) * 0.05
    sf.write(folder / "stereo-16k.wav", np.stack([clip, right[: clip.size]], axis=1), m.RATE)
    sf.write(folder / "rate-8k.wav", m.resample(clip, 8000), 8000, subtype="PCM_16")
    m.encode(folder / "rate-44k.mp3", m.resample(clip, 44100), 44100, "mp3")
    m.encode(folder / "rate-48k.m4a", m.resample(clip, 48000), 48000, "aac")


def _write_bad(folder, scratch) -> None:
    clip = m.demo_clip(DEMO, CLIP_S)
    (folder / "zero-byte.mp3").write_bytes(b"")
    sf.write(scratch / "whole.flac", clip, m.RATE)
    m.encode(scratch / "whole.mp3", clip, m.RATE, "mp3")
    m.encode(scratch / "whole.mp4", clip, m.RATE, "aac")
    m.truncate(scratch / "whole.flac", folder / "truncated-flac.flac")
    m.truncate(scratch / "whole.mp3", folder / "truncated-mp3.mp3")
    m.truncate(scratch / "whole.mp4", folder / "truncated-mp4.mp4")
    m.corrupt_middle(scratch / "whole.flac", folder / "corrupt-middle.flac")
    (folder / "notes-not-audio.mp3").write_text("These are show notes, not audio.\n" * 200)
    (folder / "png-renamed.mp4").write_bytes(m.png_bytes())
    (folder / "thumbnail.png").write_bytes(m.png_bytes())  # not a media suffix: never listed
    sf.write(folder / "silence.wav", m.silence(CLIP_S), m.RATE)
    sf.write(folder / "music.flac", m.music(CLIP_S, 44100), 44100)
    m.encode(folder / "noise.ogg", m.noise(CLIP_S, 48000), 48000, "libopus")


def _ingest(instance, folder):
    videos = LocalSource(folder).list()
    with db.session(get_settings()) as conn:
        catalog.register(conn, videos)
    keys = [v.video_id for v in videos]
    add_partitions(instance, keys)
    outcomes = materialize(defs, instance, keys, batch_size=len(keys))  # the whole folder in ONE run
    return {Path(v.metadata["path"]).name: v.video_id for v in videos}, outcomes


@pytest.fixture(scope="module")
def batch(dagster_env, tmp_path_factory):
    """A clean run of the good files alone (the reference), then one run of a folder with good and bad."""
    good_dir = tmp_path_factory.mktemp("good-only")
    _write_good(good_dir)
    ref_ids, ref_outcomes = _ingest(dagster_env, good_dir)
    assert len(ref_outcomes) == 1 and ref_outcomes[0].success
    with db.session(get_settings()) as conn:
        reference = snapshot(conn, list(ref_ids.values()))

    mixed = tmp_path_factory.mktemp("mixed")
    _write_good(mixed)  # the same bytes, so the same video ids as the reference run
    _write_bad(mixed, tmp_path_factory.mktemp("scratch"))
    ids, outcomes = _ingest(dagster_env, mixed)
    assert {ids[name] for name in GOOD} == set(ref_ids.values())
    with db.session(get_settings()) as conn:
        after = snapshot(conn, list(ref_ids.values()))
    return {"ids": ids, "outcomes": outcomes, "reference": reference, "after": after}


def _row(conn, video_id):
    return conn.execute(
        "SELECT status, error, (SELECT count(*) FROM segments g WHERE g.source_id = s.id) FROM sources s"
        " WHERE video_id = %s", (video_id,)).fetchone()


def test_one_run_for_the_whole_folder(batch):
    ids, outcomes = batch["ids"], batch["outcomes"]
    assert len(ids) == len(BAD) + len(GOOD)  # thumbnail.png is not listed
    assert "thumbnail.png" not in ids
    assert len(outcomes) == 1 and set(outcomes[0].keys) == set(ids.values())
    # a bad video is recorded per video: every asset of the run still materialized
    assert {"raw_audio", "transcripts", "diarization", "speaker_labels", "embeddings"} <= outcomes[0].materialized


def test_the_run_succeeds_with_bad_media_in_it(batch):
    outcome = batch["outcomes"][0]
    assert outcome.success, outcome.checks


@pytest.mark.parametrize("name", [n for n, (kind, _) in BAD.items() if kind == "failed"])
def test_bad_file_fails_alone_with_a_clear_error(batch, conn, name):
    video_id = batch["ids"][name]
    status, error, rows = _row(conn, video_id)
    assert status == "failed"
    assert rows == 0
    # names the stage, the video, the file and the cause, and says what to do
    assert error.startswith(f"raw_audio failed for video {video_id}: AudioError: {name}:"), error
    assert all(word in error for word in BAD[name][1]), error
    assert "re-download or re-encode" in error
    assert "Traceback" not in error


@pytest.mark.parametrize("name", [n for n, (kind, _) in BAD.items() if kind == "empty"])
def test_no_speech_is_an_honest_empty_result(batch, conn, name):
    """Silence, music and noise are decoded and transcribed; nothing is said, so nothing is stored."""
    video_id = batch["ids"][name]
    status, error, rows = _row(conn, video_id)
    assert (status, error, rows) == ("done", None, 0)
    duration = conn.execute("SELECT duration_s FROM sources WHERE video_id = %s", (video_id,)).fetchone()[0]
    assert duration == pytest.approx(CLIP_S, abs=0.1)  # the whole file was decoded, not given up on


def test_good_videos_of_the_batch_match_a_clean_run(batch, conn, fault_report):
    ids, reference, after = batch["ids"], batch["reference"], batch["after"]
    good = [ids[name] for name in GOOD]
    assert {_row(conn, v)[0] for v in good} == {"done"}
    assert reference and {r[0] for r in reference} == set(good)  # every good video stored rows
    lost, duplicated = audit(reference, after)
    assert (lost, duplicated) == (0, 0)
    assert len(after) == len(reference)

    for family, names in FAMILY.items():
        vids = [ids[n] for n in names]
        states = [_row(conn, v) for v in vids]
        if family.startswith("stereo"):
            affected = sum(1 for s, _e, rows in states if s != "done" or rows == 0)
            handled = affected == 0
        elif family in ("silence only", "music / noise only"):
            affected = len(vids)  # each stored an empty result
            handled = all(s == "done" and e is None and rows == 0 for s, e, rows in states)
        else:
            affected = sum(1 for s, _e, _r in states if s == "failed")
            handled = affected == len(vids) and all(v in e for v, (_s, e, _r) in zip(vids, states))
        fault_report.add(
            f"bad media: {family}", f"{len(vids)} of {len(ids)} files in one ingest run",
            videos_affected=affected, rows_lost=lost, rows_duplicated=duplicated,
            recovered=handled and lost == 0 and duplicated == 0,
        )


def _text(rows, video_id):
    return " ".join(r[4] for r in rows if r[0] == video_id)


@pytest.mark.parametrize("name,max_wer", [("stereo-16k.wav", 0.15), ("rate-44k.mp3", 0.15), ("rate-48k.m4a", 0.15),
                                          ("rate-8k.wav", 0.4)])
def test_converted_copies_say_the_same_words(batch, name, max_wer):
    """Each copy's stored text against the 16 kHz original's (and the script); 8 kHz loses the top band
    (telephone quality), so it is allowed more."""
    ids, after = batch["ids"], batch["after"]
    original = _text(after, ids["original-16k.flac"])
    copy = _text(after, ids[name])
    script = m.reference_words(DEMO, CLIP_S)
    against_original = wer(original, copy).wer
    assert wer(script, original).wer <= 0.25  # the 16 kHz original itself is transcribed well
    print(f"{name}: WER vs 16 kHz original {against_original:.3f}, vs script {wer(script, copy).wer:.3f} "
          f"(original vs script {wer(script, original).wer:.3f})")
    assert against_original <= max_wer, (original, copy)
    assert {"carnivore", "calcium", "hungry"} <= set(re.findall(r"[a-z]+", copy.lower()))
