"""The project's definitions with the backfill batch set to 2 videos per run.

`CHAFFEE_VIDEOS_PER_RUN` is read once, when `chaffee_assets.defs.partitions` is imported, so a test
process that has already imported the definitions cannot change it: this module rebuilds the same
assets, checks, job and resources with BackfillPolicy.multi_run(2) so that a backfill of a few short
videos still spans several runs.
"""

import dagster as dg

from chaffee_assets.definitions import defs as project

BATCH = 2

defs = dg.Definitions(
    assets=[a.with_attributes(backfill_policy=dg.BackfillPolicy.multi_run(BATCH)) for a in project.assets],
    asset_checks=project.asset_checks,
    jobs=project.jobs,
    resources=project.resources,
)
