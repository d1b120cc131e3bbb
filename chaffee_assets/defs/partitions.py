import warnings

import dagster as dg

from chaffee_assets.defs.executors import QUEUE_TAG, queue
from chaffee_assets.settings import get_settings

# backfill_policy is beta and partitioned asset checks are preview in dagster 1.13; both are pinned here
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

# One partition per video; keys are video ids (YouTube ids, or stable ids derived from local files).
videos = dg.DynamicPartitionsDefinition(name="videos")

# Every asset of the chain materializes many videos per run, so each model loads once per batch
# and the engine sees all of the run's videos at once.
batch_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=get_settings().videos_per_run)


def video_asset(*, description: str, kinds: set[str], stage: str, pool: str | None = None, deps=()):
    """The decorator every asset of the chain shares: partitioned per video, batched, one group and owner.
    Tags name the stage and the pool it runs in (UI filters such as `tag:compute=gpu`); the step's op tag
    routes it to the celery queue of that pool when the celery executor runs it."""
    return dg.asset(deps=list(deps), partitions_def=videos, backfill_policy=batch_policy, pool=pool,
                    group_name="speech", kinds=kinds, owners=["team:chaffee-data"], description=description,
                    tags={"stage": stage, "compute": queue(pool), "partitioning": "per-video"},
                    op_tags={QUEUE_TAG: queue(pool)})
