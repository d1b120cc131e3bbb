"""Backfill by partition range through Dagster's own asset-backfill daemon, and the CLI's batched path."""

import logging
import os
import time

import dagster as dg
import pytest
import soundfile as sf
from click.testing import CliRunner
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.definitions.selector import PartitionRangeSelector, PartitionsByAssetSelector, PartitionsSelector
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.instance.ref import InstanceRef
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.dagster_run import RunsFilter
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration

from chaffee_assets.cli import main
from chaffee_assets.definitions import defs as project
from chaffee_assets.defs.runner import add_partitions
from chaffee_assets.settings import REPO_ROOT, get_settings
from chaffee_assets.sources.local import LocalSource
from chaffee_assets.sources.rss import rss_id
from chaffee_assets.store import catalog
from tests.conftest import DEMO_AUDIO
from tests.sources import backfill_defs
from tests.sources.conftest import clip, feed

CHAIN = ["raw_audio", "transcripts", "diarization", "speaker_labels", "embeddings"]
START, END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def test_every_asset_backfills_in_batches_of_videos_per_run():
    for name in CHAIN:
        policy = project.resolve_assets_def(name).backfill_policy
        assert policy.max_partitions_per_run == get_settings().videos_per_run, name


@pytest.mark.filterwarnings("ignore:coroutine:RuntimeWarning")  # dagster's backfill loop around a sync launcher
def test_backfill_of_a_range_runs_in_ceil_n_over_batch_runs(dagster_env, conn, tmp_path):
    """What the UI's "Materialize -> backfill a range" submits, executed by the backfill daemon's own
    iteration: 5 partitions, 2 per run (backfill_defs) -> 3 runs, each materializing all five assets."""
    samples, rate = sf.read(DEMO_AUDIO / "monologue-02.flac", dtype="float32")
    for i in range(5):
        sf.write(tmp_path / f"range-{i}.flac", samples[int(i * 6 * rate): int((i + 1) * 6 * rate)], rate)
    videos = LocalSource(tmp_path).list()
    catalog.register(conn, videos)
    keys = [v.video_id for v in videos]
    add_partitions(dagster_env, keys)

    # The same instance storage, with runs launched synchronously in this process (the daemon would hand
    # them to the run queue and launcher instead).
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(get_settings().dagster_home), overrides={
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
        "run_launcher": {"module": "dagster._core.launcher.sync_in_memory_run_launcher",
                         "class": "SyncInMemoryRunLauncher"}}))
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name=backfill_defs.__name__, attribute="defs", working_directory=str(REPO_ROOT)),
        location_name="chaffee_assets")
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as workspace:
        with partition_loading_context(dynamic_partitions_store=instance):
            backfill = PartitionBackfill.from_partitions_by_assets(
                backfill_id=make_new_backfill_id(), asset_graph=workspace.create_request_context().asset_graph,
                backfill_timestamp=time.time(), tags={}, dynamic_partitions_store=instance,
                partitions_by_assets=[PartitionsByAssetSelector(
                    asset_key=dg.AssetKey(name),
                    partitions=PartitionsSelector(ranges=[PartitionRangeSelector(start=keys[0], end=keys[-1])]))
                    for name in CHAIN],
                title="range", description=None, run_config={"execution": {"config": {"in_process": {}}}})
        instance.add_backfill(backfill)
        for _ in range(10):
            list(execute_backfill_iteration(workspace, logging.getLogger("backfill")))
            if instance.get_backfill(backfill.backfill_id).status != BulkActionStatus.REQUESTED:
                break
    assert instance.get_backfill(backfill.backfill_id).status == BulkActionStatus.COMPLETED_SUCCESS
    runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
    assert len(runs) == -(-len(keys) // backfill_defs.BATCH) == 3
    assert sorted((r.tags[START], r.tags[END]) for r in runs) == [(keys[0], keys[1]), (keys[2], keys[3]),
                                                                   (keys[4], keys[4])]
    for run in runs:
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert {k.to_user_string() for k in run.asset_selection} == set(CHAIN)
        records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        materialized = {(m.asset_key.to_user_string(), m.partition) for m in
                        (r.event_log_entry.dagster_event.event_specific_data.materialization for r in records)}
        span = keys[keys.index(run.tags[START]): keys.index(run.tags[END]) + 1]
        assert materialized == {(name, key) for name in CHAIN for key in span}
    assert set(catalog.statuses(conn, keys).values()) == {"done"}


def test_cli_ingest_of_a_feed_uses_the_same_batched_range_runs(dagster_env, http, restore_env, conn):
    """`chaffee ingest --source rss --feed URL --limit N` (and --source youtube --channel URL, the same
    code): the newest N after the filters, run as partition ranges of CHAFFEE_VIDEOS_PER_RUN videos."""
    os.environ["CHAFFEE_VIDEOS_PER_RUN"] = "1"
    items = [{"guid": f"cli-{i}", "title": f"CLI {i}", "url": http.add(f"/media/cli-{i}.flac",
              clip("monologue-01.flac", 6.0, start_s=6.0 * i)), "duration": "00:30:00",
              "pub": f"Mon, {10 + i} Nov 2025 10:00:00 GMT"} for i in range(3)]
    http.add("/feed.xml", feed("CLI feed", items), "application/rss+xml")
    result = CliRunner().invoke(main, ["ingest", "--source", "rss", "--feed", http.url("/feed.xml"), "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "3 entries listed, 0 left out by the filters" in result.output and "2 to process" in result.output
    newest = [rss_id("cli-2"), rss_id("cli-1")]
    assert catalog.statuses(conn, newest + [rss_id("cli-0")]) == dict.fromkeys(newest, "done")
    for key in newest:
        runs = dagster_env.get_runs(RunsFilter(tags={START: key, END: key}))  # downloads ahead: two jobs
        assert sorted(r.job_name for r in runs) == ["download", "process"]
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
