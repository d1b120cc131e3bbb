"""`chaffee ingest` with downloads ahead of the models: `download` runs (raw_audio) in a process of their
own, `process` runs (transcripts .. embeddings) in this process over the videos that have landed, so the
models never wait inside a chain for a transfer and stay loaded from run to run.

A video is ready once raw_audio has marked it 'downloaded' in `sources` during this ingest (the database
is what both processes share); each is processed once, in a run of contiguous partitions. The next
download run starts only while the converted audio downloaded and not yet processed is under
CHAFFEE_DOWNLOAD_AHEAD_GB. The download process is forked from this one (spawned off Linux) and dies with it (PR_SET_PDEATHSIG): a kill -9 leaves
no orphan writing into the downloads folder; the next ingest resumes its .part files.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import dagster as dg

from chaffee_assets.defs.runner import (
    QUIET,
    RunOutcome,
    _outcome,
    _run_tags,
    batches,
    reap_orphan_runs,
)
from chaffee_assets.settings import get_settings
from chaffee_assets.store import catalog, db
from chaffee_assets.store.files import Files

POLL_S = 0.2


@dataclass
class Overlap:
    """How well downloads kept ahead (written to CHAFFEE_HOME/last_ingest.json; the bench reads it).

    Attributes:
        first_wait_s: from the start until the first video had landed (nothing to process yet).
        wait_s: after that, seconds the models waited with nothing landed while downloads ran.
        process_s: seconds spent inside `process` runs.
        wait_share: wait_s / (wait_s + process_s): the share of the model side's wall time spent waiting
            for audio after the first file.
        peak_ahead_mb: the most converted audio downloaded and not yet processed at once.
    """

    first_wait_s: float = 0.0
    wait_s: float = 0.0
    process_s: float = 0.0
    wait_share: float = 0.0
    peak_ahead_mb: float = 0.0
    download_runs: int = 0
    process_runs: int = 0
    wall_s: float = 0.0


class Feeder(threading.Thread):
    """Submits the download runs one after another to the download process, each once the audio ahead
    is under budget, and keeps their outcomes."""

    def __init__(self, pool: ProcessPoolExecutor, plan: list[list[str]], ahead_bytes: Callable[[], int],
                 budget_bytes: float) -> None:
        super().__init__(name="download-feeder", daemon=True)
        self.pool, self.plan, self.ahead_bytes, self.budget = pool, plan, ahead_bytes, budget_bytes
        self.outcomes: list[RunOutcome] = []
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            for batch in self.plan:
                while self.ahead_bytes() >= self.budget:
                    time.sleep(POLL_S)
                self.outcomes.append(self.pool.submit(_download_run, batch).result())
        except BaseException as exc:  # noqa: BLE001 - reported by the driver
            self.error = exc
        finally:
            self.finished.set()


def materialize_ahead(defs: dg.Definitions, instance: dg.DagsterInstance, keys: list[str], *, batch_size: int,
                      durations: dict[str, float] | None = None,
                      on_run: Callable[[RunOutcome], None] | None = None) -> tuple[list[RunOutcome], Overlap]:
    """Download runs of `batch_size` videos in a second process; `process` runs here as videos land.
    Returns the runs' outcomes (downloads first) and the overlap figures."""
    settings, clock = get_settings(), time.perf_counter()
    reap_orphan_runs(instance)
    files, order = Files(settings), instance.get_dynamic_partitions("videos")
    figures, landed, processed = Overlap(), [], set()
    lock = threading.Lock()

    def ahead_bytes() -> int:
        with lock:
            return sum(_size(files.audio(k)) for k in landed if k not in processed)

    # fork where there is one: the child starts with dagster and the definitions already imported (spawn
    # re-imports them, ~10 s of CPU on a busy 2-core box). It is forked here, before the feeder and the
    # model warm-up start threads, and before this function opens its database connection.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=_die_with_parent) as pool, \
            db.database(settings) as database:
        pool.submit(os.getpid).result()
        since = database.run(catalog.now)
        feeder = Feeder(pool, batches(order, keys, batch_size), ahead_bytes, settings.download_ahead_gb * 1e9)
        figures.download_runs = len(feeder.plan)
        feeder.start()
        _warm_models(settings)  # what the first process run would load, while the first downloads run
        job, outcomes, started = defs.resolve_job_def("process"), [], None
        while True:
            over = feeder.finished.is_set()  # read before the poll: a video that lands after it is seen next time
            status = database.run(catalog.changed_since, keys, since)
            with lock:
                landed[:] = [k for k in keys if status.get(k) == "downloaded" or (k in processed)]
            figures.peak_ahead_mb = max(figures.peak_ahead_mb, ahead_bytes() / 1e6)
            ready = [k for k in landed if k not in processed]
            if not ready:
                if over:
                    break
                idle = time.perf_counter()
                time.sleep(POLL_S)
                if started is not None:
                    figures.wait_s += time.perf_counter() - idle
                continue
            if started is None:
                started = time.perf_counter()
                figures.first_wait_s = started - clock
            batch = batches(order, ready, batch_size, durations, settings.audio_h_per_run * 3600)[0]
            run_clock = time.perf_counter()
            result = job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False,
                                            tags=_run_tags(batch))
            figures.process_s += time.perf_counter() - run_clock
            with lock:
                processed.update(batch)
            outcomes.append(_outcome(result, batch))
            if on_run:
                on_run(outcomes[-1])
        feeder.join()
        if feeder.error is not None:
            raise feeder.error
    figures.process_runs, figures.wall_s = len(outcomes), time.perf_counter() - clock
    busy = figures.wait_s + figures.process_s
    figures.wait_share = round(figures.wait_s / busy, 4) if busy else 0.0
    (settings.home / "last_ingest.json").write_text(json.dumps(asdict(figures), indent=1) + "\n")
    return feeder.outcomes + outcomes, figures


def _download_run(batch: list[str]) -> RunOutcome:
    """One `download` run, in the download process."""
    from chaffee_assets.definitions import defs

    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("download").execute_in_process(
            instance=instance, run_config=QUIET, raise_on_error=False, tags=_run_tags(batch))
        return _outcome(result, batch)


def _warm_models(settings) -> None:
    """Load the ASR model and start the other models' warm-up (both cached per process)."""
    from chaffee_assets.speech import models

    models.transcriber(settings)
    models.warm_up(settings)


def _die_with_parent() -> None:
    """Linux: the download process gets SIGKILL when ingest's process dies, however it dies."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _size(path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
