"""The bench's capacity figures: CPU core-seconds per hour of audio by stage, and what is left outside
the steps, split into the per-ingest part (the one-clip ingest) and the part each further run adds."""

from chaffee_assets.bench.harness import capacity


def test_stage_cpu_per_audio_hour_and_the_cost_outside_the_steps():
    pipeline = {"cpu_s": 200.0, "wall_s": 150.0, "runs": 6, "stages": {"raw_audio": 5.0, "transcripts": 100.0},
                "stages_cpu_s": {"raw_audio": 9.0, "transcripts": 120.0}}
    fixed = {"cpu_s": 40.0, "wall_s": 30.0, "runs": 2, "stages": {"raw_audio": 0.2, "transcripts": 3.8},
             "stages_cpu_s": {"raw_audio": 0.5, "transcripts": 1.5}}
    feed = {"stages_cpu_s": {"raw_audio": 12.0}}
    cap = capacity(pipeline, fixed, audio_s=1800.0, feed=feed, prep_cpu_s=3.0)  # half an hour of audio
    assert cap["cpu_s_per_audio_h"] == {"raw_audio": 18.0, "transcripts": 240.0, "download_and_conversion": 24.0,
                                        "decoding_and_vad": 6.0}
    assert cap["outside_steps_cpu_s"] == 71.0 and cap["fixed_ingest_cpu_s"] == 38.0
    assert cap["per_run_cpu_s"] == round((71.0 - 38.0) / 4, 2)  # 4 runs beyond the one-clip ingest's 2
    assert cap["fixed_ingest_wall_s"] == 26.0 and cap["per_run_wall_s"] == round((45.0 - 26.0) / 4, 2)


def test_decoding_and_vad_cpu_is_measured_on_real_audio():
    from chaffee_assets.bench.harness import prep_cpu
    from tests.conftest import DEMO_AUDIO

    seconds = prep_cpu([DEMO_AUDIO / "monologue-02.flac"], window_s=600.0)
    assert 0.0 < seconds < 60.0
