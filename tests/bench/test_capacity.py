"""The bench's capacity figures: CPU core-seconds per hour of audio by stage, and what is left outside
the steps, split into the per-ingest part (the one-clip ingest) and the part each further run adds."""

from chaffee_assets.bench.harness import capacity


def test_stage_cpu_per_audio_hour_and_the_cost_outside_the_steps():
    pipeline = {"cpu_s": 200.0, "runs": 6, "stages_cpu_s": {"raw_audio": 9.0, "transcripts": 120.0}}
    fixed = {"cpu_s": 40.0, "runs": 2, "stages_cpu_s": {"raw_audio": 0.5, "transcripts": 1.5}}
    cap = capacity(pipeline, fixed, audio_s=1800.0)  # half an hour of audio
    assert cap["cpu_s_per_audio_h"] == {"raw_audio": 18.0, "transcripts": 240.0}
    assert cap["outside_steps_cpu_s"] == 71.0 and cap["fixed_ingest_cpu_s"] == 38.0
    assert cap["per_run_cpu_s"] == round((71.0 - 38.0) / 4, 2)  # 4 runs beyond the one-clip ingest's 2
