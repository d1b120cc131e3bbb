import dagster as dg

from chaffee_assets.definitions import defs
from chaffee_assets.defs.runner import batches

CHAIN = ["raw_audio", "transcripts", "diarization", "speaker_labels", "embeddings"]


def test_five_partitioned_assets_in_order():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == set(CHAIN)
    for name in CHAIN:
        node = graph.get(dg.AssetKey(name))
        assert node.partitions_def.name == "videos"
        assert node.backfill_policy.max_partitions_per_run >= 1
    parents = {name: {p.to_user_string() for p in graph.get(dg.AssetKey(name)).parent_keys} for name in CHAIN}
    assert parents == {
        "raw_audio": set(),
        "transcripts": {"raw_audio"},
        "diarization": {"transcripts"},  # reuses the VAD pass ASR made
        "speaker_labels": {"transcripts", "diarization"},
        "embeddings": {"speaker_labels"},
    }


def test_model_heavy_assets_share_the_gpu_pool():
    pool = {n: defs.resolve_assets_def(n).op.pool for n in CHAIN}
    assert pool["raw_audio"] == "io"
    assert {pool[n] for n in ("transcripts", "diarization", "embeddings")} == {"gpu"}
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert all(specs[n].description and specs[n].owners for n in CHAIN)


def test_ingest_job_covers_the_chain():
    job = defs.resolve_job_def("ingest")
    checks = {"speaker_labels_segment_quality", "embeddings_stored_segments", "embeddings_throughput"}
    assert {n.name for n in job.nodes} == set(CHAIN) | checks


def test_batches_follow_partition_order_and_size():
    order = ["a", "b", "c", "d", "e", "f", "g"]
    assert batches(order, {"a", "b", "c", "e", "f"}, 2) == [["a", "b"], ["c"], ["e", "f"]]
    assert batches(order, {"g"}, 8) == [["g"]]
    assert batches(order, set(), 8) == []
    # sized by audio: a run closes once its videos reach 1 h (unknown durations count 0), or at the cap
    hours = {"a": 1800, "b": 1800, "c": 3000, "d": 10, "e": 600, "f": None}
    assert batches(order, {"a", "b", "c", "e", "f", "g"}, 8, hours, 3600) == [["a", "b"], ["c"], ["e", "f", "g"]]
    assert batches(order, {"a", "b", "c"}, 1, hours, 3600) == [["a"], ["b"], ["c"]]
