"""Corpora the suite never tuned on (scripts/stress_corpus.py, seeds no other test uses), ingested through
`chaffee ingest`: every good file is stored, and the repairs made on the way are reported."""

import json
import shutil
from collections import Counter

import pytest
from click.testing import CliRunner

from chaffee_assets.cli import main
from chaffee_assets.sources.local import LocalSource
from tests.conftest import stress_corpus

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng generates the corpus")


def ingest_corpus(tmp_path, conn, monkeypatch, files: int, seed: int, minutes: tuple[float, float], per_run: int):
    """Generate, ingest in runs of per_run videos, and return (the CLI's output, the repairs by kind)."""
    folder = stress_corpus(tmp_path, files, seed, minutes)
    monkeypatch.setenv("CHAFFEE_VIDEOS_PER_RUN", str(per_run))
    # no profiles: none of these voices is anybody's, and no "host" rows reach later tests' searches
    # (ingest writes VOICES_DIR into the environment; monkeypatch puts it back)
    voices = tmp_path / "no-voices"
    voices.mkdir()
    monkeypatch.setenv("VOICES_DIR", str(voices))
    result = CliRunner().invoke(main, ["ingest", "--source", "local", "--path", str(folder), "--voices-dir", str(voices)])
    listed = LocalSource(folder).list()
    keys, audio_s = [v.video_id for v in listed], sum(v.duration_s or 0 for v in listed)
    rows = conn.execute("SELECT video_id, status, error, metadata FROM sources WHERE video_id = ANY(%s)",
                        (keys,)).fetchall()
    not_stored = {k: (state, error) for k, state, error, _ in rows if state != "done"}
    assert len(rows) == files and not not_stored, (not_stored, result.output)
    assert result.exit_code == 0, result.output
    repairs = Counter()
    for _, _, _, meta in rows:
        repairs.update(meta["word_repairs"])
        repairs["segments_repaired"] += len(meta["quality"]["segment_repairs"])
        repairs["segments_dropped"] += len(meta["quality"]["dropped_segments"])
        assert meta["quality"]["flagged"] is None
    print(f"{files} files, {audio_s / 60:.1f} min, seeds {seed}-{seed + files - 1}: repairs {json.dumps(repairs)}")
    return result.output, repairs


def test_ten_new_files_are_all_stored(tmp_path, conn, monkeypatch, dagster_env):
    output, repairs = ingest_corpus(tmp_path, conn, monkeypatch, 10, 9100, (0.3, 0.6), per_run=5)
    assert "10 to process" in output and "FAILED" not in output


@pytest.mark.slow
def test_forty_new_files_in_several_runs_are_all_stored(tmp_path, conn, monkeypatch, dagster_env):
    output, repairs = ingest_corpus(tmp_path, conn, monkeypatch, 40, 9200, (0.3, 3.0), per_run=8)
    assert "40 to process" in output and "FAILED" not in output
