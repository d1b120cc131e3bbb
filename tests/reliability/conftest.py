"""Fault-injection fixtures and the reliability report.

Each test that injects a fault records one row with `fault_report.add(...)`, with figures taken from the
database (`audit`): the segment rows present before the fault that are gone after recovery (lost) and
rows stored twice (duplicated). At the end of the session the rows are printed as a table and written
to test-artifacts/reliability.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import soundfile as sf

from chaffee_assets.settings import REPO_ROOT
from tests.reliability.media import RATE, demo_clip

REPORT = REPO_ROOT / "test-artifacts" / "reliability.md"


@dataclass
class Fault:
    fault: str
    injected: str
    videos_affected: int
    rows_lost: int
    rows_duplicated: int
    recovered: bool | str  # True, False, or how (e.g. 'by re-run')

    def row(self) -> str:
        return (f"| {self.fault} | {self.injected} | {self.videos_affected} | {self.rows_lost} | "
                f"{self.rows_duplicated} | {_yes_no(self.recovered)} |")


def _yes_no(value: bool | str) -> str:
    return value if isinstance(value, str) else ("yes" if value else "NO")


class FaultReport:
    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: str, injected: str, *, videos_affected: int, rows_lost: int, rows_duplicated: int,
            recovered: bool | str) -> None:
        self.faults.append(Fault(fault, injected, videos_affected, rows_lost, rows_duplicated, recovered))

    def markdown(self) -> str:
        head = ("| fault | injected | videos affected | rows lost | rows duplicated | recovered automatically |\n"
                "|---|---|---|---|---|---|")
        return "\n".join([head, *(f.row() for f in self.faults)]) + "\n"


_REPORT = FaultReport()


@pytest.fixture(scope="session")
def fault_report() -> FaultReport:
    return _REPORT


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _REPORT.faults:
        return
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(_REPORT.markdown())
    terminalreporter.write_sep("=", "reliability report")
    terminalreporter.write(_REPORT.markdown())
    terminalreporter.write_line(f"(written to {REPORT.relative_to(REPO_ROOT)})")


def snapshot(conn: psycopg.Connection, video_ids: list[str]) -> list[tuple]:
    """Every stored segment of these videos as (video_id, start_s, end_s, speaker, text), duplicates kept."""
    return conn.execute(
        "SELECT s.video_id, g.start_s, g.end_s, g.speaker, g.text FROM segments g"
        " JOIN sources s ON s.id = g.source_id WHERE s.video_id = ANY(%s) ORDER BY 1, 2, 3",
        (list(video_ids),),
    ).fetchall()


def audit(before: list[tuple], after: list[tuple]) -> tuple[int, int]:
    """(rows lost, rows duplicated): rows of `before` missing from `after`; rows of `after` stored twice."""
    after_set = set(after)
    lost = sum(1 for row in set(before) if row not in after_set)
    return lost, len(after) - len(after_set)



def crop(name: str, seconds: float, dest: Path) -> Path:
    """The first `seconds` of a demo recording, written to dest (short clips keep model time low)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    sf.write(dest, demo_clip(name, seconds), RATE, format="FLAC")
    return dest


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> Path:
    """A folder with a 25 s monologue and a 32 s stretch of the interview (both speakers in it)."""
    folder = tmp_path_factory.mktemp("clips")
    crop("monologue-01.flac", 25, folder / "mono.flac")
    crop("interview-01.flac", 32, folder / "talk.flac")
    return folder


def chaffee(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The real command line in its own process, with this session's CHAFFEE_HOME."""
    return subprocess.run([sys.executable, "-m", "chaffee_assets.cli", *args], env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def wait_for(condition, timeout_s: float = 300.0, what: str = "condition"):
    deadline = time.time() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
