"""Shared fixtures. Tests create their own embedded Postgres under a temporary CHAFFEE_HOME and never
touch a database they did not create: DATABASE_URL from the caller's environment is ignored."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chaffee_assets.settings import REPO_ROOT, get_settings

for _var in ("DATABASE_URL", "CHAFFEE_DAGSTER_PG_URL", "DAGSTER_HOME", "CHAFFEE_HOME", "VOICES_DIR"):
    os.environ.pop(_var, None)
os.environ["HF_HUB_OFFLINE"] = "1"

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "pyannote_sample"
DEMO_AUDIO = REPO_ROOT / "demo" / "audio"
VOICES = REPO_ROOT / "voices"


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> Path:
    """CHAFFEE_HOME for the session, with its embedded Postgres stopped at the end."""
    from chaffee_assets.store import db

    path = tmp_path_factory.mktemp("home")
    os.environ["CHAFFEE_HOME"] = str(path)
    yield path
    db.stop_embedded(get_settings())


@pytest.fixture()
def conn(home):
    from chaffee_assets.store import db

    with db.session(get_settings()) as c:
        yield c


@pytest.fixture(scope="session")
def dagster_env(home):
    """Database up, DAGSTER_HOME prepared; returns the Dagster instance."""
    from chaffee_assets import runtime

    runtime.prepare(get_settings())
    return runtime.instance()


@pytest.fixture()
def restore_env():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def copy_demo(dest: Path, *names: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(DEMO_AUDIO / name, dest / name)
    return dest


def stress_corpus(dest: Path, files: int, seed: int, minutes: tuple[float, float] = (0.3, 4.0)) -> Path:
    """scripts/stress_corpus.py: files drawn from seed, seed + 1, ... into dest/audio (needs espeak-ng)."""
    subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "stress_corpus.py"), str(dest), "--files", str(files),
                    "--seed", str(seed), "--minutes-per-file", str(minutes[0]), str(minutes[1])],
                   check=True, capture_output=True)
    return dest / "audio"
