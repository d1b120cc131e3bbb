"""Fixtures for the operator-UI tests: one short demo video ingested through a real Dagster run, the
`chaffee stats --json` figures taken right after it, and helpers to run servers on free loopback ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaffee_assets.processes import stop_tree
from chaffee_assets.settings import REPO_ROOT, get_settings
from tests.conftest import copy_demo

CHROMIUM = Path("/usr/bin/chromium")
# No network here: nothing in the background may try to reach the outside, and each run has a fresh profile.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
CHAIN = ["raw_audio", "transcripts", "diarization", "speaker_labels", "embeddings"]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"


@dataclass
class Ingested:
    video_id: str
    run_id: str
    checks: dict[str, bool]
    stats: dict  # `chaffee stats --json`, run as a separate process after the run


@pytest.fixture(scope="package")
def ingested(dagster_env, tmp_path_factory) -> Ingested:
    from chaffee_assets.definitions import defs
    from chaffee_assets.defs.runner import add_partitions, materialize
    from chaffee_assets.sources.local import LocalSource
    from chaffee_assets.store import catalog, db

    folder = copy_demo(tmp_path_factory.mktemp("ui-media"), "monologue-01.flac")
    (video,) = LocalSource(folder).list()
    settings = get_settings()
    with db.session(settings) as conn:
        catalog.register(conn, [video])
    add_partitions(dagster_env, [video.video_id])
    (outcome,) = materialize(defs, dagster_env, [video.video_id], batch_size=settings.videos_per_run)
    assert outcome.success and outcome.materialized == set(CHAIN), outcome
    cli = subprocess.run([sys.executable, "-m", "chaffee_assets.cli", "stats", "--json"],
                         capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, check=True)
    return Ingested(video.video_id, outcome.run_id, outcome.checks, json.loads(cli.stdout.strip().splitlines()[-1]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 240) -> None:
    """Poll url until it answers 200; fail with the server's log if it exits or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode} before answering:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"{url} did not answer within {timeout_s:.0f} s:\n{log.read_text()[-4000:]}")


def stop_process_tree(proc: subprocess.Popen, timeout_s: float = 60) -> None:
    """SIGINT to a server this test started, then kill what of its own process tree is left."""
    stop_tree(proc, timeout_s)


def server_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", DAGSTER_TELEMETRY_DISABLED="1")
    env.update(extra)
    return env


@contextmanager
def served(args: list[str], health: str, log: Path) -> Iterator[str]:
    """`python -m ARGS` (with --port PORT appended where it holds "{port}") as its own process on a free
    127.0.0.1 port, answered on health; its base URL. Stopped, with its process tree, on exit."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", *(a.format(port=port) for a in args)], cwd=REPO_ROOT,
                                env=server_env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}{health}", proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_tree(proc)


def playwright_or_skip():
    """Playwright's sync API, for tests in Debian's chromium; without chromium the module is skipped, or in CI fails
    (scripts/system_deps.sh installs it)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} missing: scripts/system_deps.sh (make setup, as root) installs chromium")
        pytest.skip(f"{CHROMIUM} not installed (scripts/system_deps.sh installs it as root)", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api")


@contextmanager
def browser_tab(sync_api, profile: Path, width: int, height: int, timeout_ms: int = 90_000):
    """A tab of headless chromium with a fresh profile; no network traffic of its own (FLAGS)."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": width, "height": height})
        context.set_default_timeout(timeout_ms)  # a cold server on a busy 2-core machine
        try:
            yield context.new_page()
        finally:
            context.close()
