"""The operators' run summary in Dagster: the embeddings materialization carries `chaffee stats`'
figures as numeric corpus_* metadata, and every stage's materialization carries throughput numbers."""

import dagster as dg

from tests.ui.conftest import CHAIN


def _materialization(instance: dg.DagsterInstance, name: str, run_id: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(name))
    assert event is not None and event.run_id == run_id, name
    return dict(event.asset_materialization.metadata)


def test_cli_stats_equal_the_run_summary_in_dagster(ingested, dagster_env):
    meta = _materialization(dagster_env, "embeddings", ingested.run_id)
    stats = ingested.stats
    assert set(stats) == {"videos", "failed", "segments", "audio_hours", "elapsed_hours", "hours_per_hour"}
    assert stats["videos"] >= 1 and stats["audio_hours"] > 0 and stats["segments"] > 0
    for key, value in stats.items():
        entry = meta[f"corpus_{key}"]
        if value is None:
            assert isinstance(entry, dg.NullMetadataValue), key
        else:
            assert isinstance(entry, (dg.IntMetadataValue, dg.FloatMetadataValue)), key  # numeric: plotted
            assert entry.value == value, (key, entry.value, value)


def test_every_stage_reports_numbers_the_ui_plots(ingested, dagster_env):
    for name in CHAIN:
        meta = _materialization(dagster_env, name, ingested.run_id)
        for key in ("audio_s", "wall_s", "x_realtime", "h_audio_per_h", "busy_fraction", "compute_fraction",
                    "videos", "failed"):
            assert isinstance(meta[key], (dg.IntMetadataValue, dg.FloatMetadataValue)), (name, key)
        assert not [k for k in meta if k.startswith("gpu_")], name  # CPU: no GPU telemetry, not zeros
        assert meta["busy_fraction"].value == meta["compute_fraction"].value, name  # model time on CPU
        assert meta["videos"].value == 1 and meta["failed"].value == 0, name
        assert 60 < meta["audio_s"].value < 70, name  # monologue-01 lasts 65.4 s
        assert meta["x_realtime"].value > 0 and 0 <= meta["busy_fraction"].value <= 1, name
        # compute is this run's own: a model shared by the process's runs must not carry earlier runs' time
        assert meta["compute_s"].value <= meta["wall_s"].value, name
        assert ingested.video_id in meta["per_video"].value, name  # the per-video markdown table
    assert _materialization(dagster_env, "transcripts", ingested.run_id)["segments"].value > 0
    labels = _materialization(dagster_env, "speaker_labels", ingested.run_id)
    assert labels["speakers"].value == 1 and labels["speaker_names"].value == "host"
    diarization = _materialization(dagster_env, "diarization", ingested.run_id)
    assert diarization["fast_path_videos"].value == 1 and diarization["diarized_videos"].value == 0
    rows = _materialization(dagster_env, "embeddings", ingested.run_id)["rows"].value
    assert 0 < rows <= ingested.stats["segments"]
    assert ingested.checks["speaker_labels:segment_quality"] and ingested.checks["embeddings:stored_segments"]
    assert "embeddings:throughput" in ingested.checks  # evaluated (WARN only: its outcome depends on load)
