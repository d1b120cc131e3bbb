"""Run the ingest job for one video in this process (as a run launcher's worker would): argv[1] = key."""

import sys

from chaffee_assets import runtime
from chaffee_assets.definitions import defs
from chaffee_assets.defs.runner import materialize
from chaffee_assets.settings import get_settings

if __name__ == "__main__":
    runtime.prepare(get_settings())
    [outcome] = materialize(defs, runtime.instance(), [sys.argv[1]], batch_size=1)
    print(outcome.run_id)
    sys.exit(0 if outcome.success else 1)
