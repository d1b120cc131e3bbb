"""Set up the environment every Dagster process of this project shares: database up, DAGSTER_HOME."""

from __future__ import annotations

import os
import shutil

from chaffee_assets.settings import REPO_ROOT, Settings, get_settings
from chaffee_assets.store import db

IO_SLOTS = 8  # downloads of the next batches overlap the GPU steps


def pool_limits(settings: Settings) -> dict[str, int]:
    """One gpu slot per GPU worker (celery) or GPU node (k8s): a GPU never holds two steps."""
    return {"gpu": settings.gpu_workers, "io": IO_SLOTS}


def prepare(settings: Settings) -> dict[str, str]:
    """Start (or find) the database, install dagster.yaml into DAGSTER_HOME and export the variables
    Dagster's processes need. Returns what was exported."""
    settings.home.mkdir(parents=True, exist_ok=True)
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    source, target = REPO_ROOT / "dagster.yaml", home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    env = {
        "CHAFFEE_HOME": str(settings.home),
        "DAGSTER_HOME": str(home),
        "CHAFFEE_DAGSTER_PG_URL": db.dagster_storage_url(settings),
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
    }
    os.environ.update(env)
    with db.session(settings):  # data schema migrated before any run starts
        pass
    return env


def instance():
    """The Dagster instance for the prepared environment, with this project's pool limits set."""
    import dagster as dg

    inst = dg.DagsterInstance.get()
    for pool, limit in pool_limits(get_settings()).items():
        info = inst.event_log_storage.get_concurrency_info(pool)
        if info.slot_count != limit:
            inst.event_log_storage.set_concurrency_slots(pool, limit)
    return inst
