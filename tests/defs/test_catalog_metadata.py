"""What the UI's catalog shows for each definition: every asset described, grouped, typed (kinds),
owned and tagged; every check and the sensor described."""

import dagster as dg

from chaffee_assets.definitions import defs

CHAIN = ["raw_audio", "transcripts", "diarization", "speaker_labels", "embeddings"]


def test_every_asset_has_description_group_kinds_owner_and_tags():
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert set(specs) == set(CHAIN)
    for name, spec in specs.items():
        assert spec.description and len(spec.description) > 40, name
        assert spec.group_name == "speech", name
        assert spec.kinds, name
        assert spec.owners and all(o.startswith("team:") or "@" in o for o in spec.owners), name
        assert spec.tags.get("stage") and spec.tags.get("compute") in {"io", "gpu", "cpu"}, (name, spec.tags)
    stages = [specs[n].tags["stage"] for n in CHAIN]
    assert len(set(stages)) == len(CHAIN)  # one stage tag per asset, so the UI can filter by it
    assert {n for n in CHAIN if specs[n].tags["compute"] == "gpu"} == {"transcripts", "diarization", "embeddings"}


def test_every_check_and_sensor_has_a_description():
    checks = list(defs.resolve_asset_graph().asset_check_keys)
    assert {f"{c.asset_key.to_user_string()}:{c.name}" for c in checks} == {
        "speaker_labels:segment_quality", "embeddings:stored_segments", "embeddings:throughput"}
    for check_def in defs.asset_checks:
        for spec in check_def.check_specs:
            assert spec.description and len(spec.description) > 40, spec.key
    sensor = defs.resolve_sensor_def("new_uploads")
    assert sensor.description
    # off until an operator turns it on in the UI; the UI can start it because it is a declared sensor
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
