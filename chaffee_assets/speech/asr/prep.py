"""Feed the ASR model from every core: worker processes read each file, cut it into windows and run silero
over them (the CPU work in front of the model), while the model decodes in the parent.

One process caps the feed near silero's speed on one core (~600x realtime on an H100 host, a fifth of what
the GPU decodes at batch 128); N processes scale it by N. Records come back as prefetch.Loaded, one per
window, then a closing record per file (or its error), files interleaved as the workers finish them.

Memory bound in the parent: `depth` windows waiting in the queue plus one per worker on its way in (float32,
window_s x 16 kHz: 38.4 MB for 10 min); each worker holds one window and silero's buffers on top."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import pickle
import queue
from collections.abc import Iterator

from chaffee_assets.speech.asr.prefetch import Loaded, prefetch

log = logging.getLogger(__name__)


def default_workers() -> int:
    """Every core but the one the model's own thread needs."""
    return max((os.cpu_count() or 2) - 1, 1)


def prepared(paths: dict[str, str | os.PathLike], window_s: float, *, workers: int = 0,
             depth: int = 2) -> Iterator[Loaded]:
    """Window parts (first sample, samples, speech probabilities) of every file in `paths` ({key: path}).
    workers 0 prepares on one thread in this process (in file order); a daemonic process (a celery
    prefork child, say) cannot start processes, so it uses the thread too."""
    if workers > 0 and mp.current_process().daemon:
        log.info("prep workers: this process is daemonic and cannot start processes; preparing on a thread")
        workers = 0
    if workers <= 0 or not paths:
        from chaffee_assets.speech import audio
        from chaffee_assets.speech.asr.windows import window_parts

        return prefetch(paths, lambda key: window_parts(audio.blocks(paths[key]), window_s), depth)
    return _from_processes(paths, window_s, min(workers, len(paths)), depth)


def _from_processes(paths: dict, window_s: float, workers: int, depth: int) -> Iterator[Loaded]:
    ctx = mp.get_context("spawn")  # never fork a process that holds model threads
    tasks, results = ctx.Queue(), ctx.Queue(maxsize=max(depth, 1))
    for key, path in paths.items():
        tasks.put((key, str(path)))
    for _ in range(workers):
        tasks.put(None)
    procs = [ctx.Process(target=_work, args=(i, tasks, results, window_s), name=f"prep-{i}", daemon=True)
             for i in range(workers)]
    for p in procs:
        p.start()
    current: dict[int, str | None] = {}  # worker -> the file it is preparing
    open_keys, exited = set(paths), set()
    try:
        while len(exited) < workers:
            try:
                worker, kind, key, value = results.get(timeout=1.0)
            except queue.Empty:
                yield from _reap(procs, exited, current, open_keys)
                continue
            if kind == "exit":
                exited.add(worker)
                continue
            current[worker] = None if kind in ("last", "error") else key
            if kind == "start":
                continue
            if kind in ("last", "error"):
                open_keys.discard(key)
            yield Loaded(key, value=value if kind == "part" else None, error=value if kind == "error" else None,
                         last=kind in ("last", "error"), queued=results.qsize())
        for key in [k for k in paths if k in open_keys]:  # the workers died before reaching it
            yield Loaded(key, error=RuntimeError(f"{key}: not prepared: the prep workers died first"), last=True)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
        tasks.cancel_join_thread()
        results.cancel_join_thread()


def _reap(procs, exited: set, current: dict, open_keys: set) -> Iterator[Loaded]:
    """A worker that died (killed, out of memory) fails the file it was preparing; the others go on."""
    for i, p in enumerate(procs):
        if i not in exited and not p.is_alive():
            exited.add(i)
            key = current.get(i)
            log.warning("prep worker %d died (exit code %s)%s", i, p.exitcode, f" while preparing {key}" if key else "")
            if key is not None and key in open_keys:
                open_keys.discard(key)
                yield Loaded(key, error=RuntimeError(f"{key}: prep worker died (exit code {p.exitcode}) while "
                                                     "reading it; a re-run retries it"), last=True)


def _work(worker: int, tasks, results, window_s: float) -> None:
    """A prep process: files from `tasks` until its None, each as its windows then a closing record."""
    from chaffee_assets.speech import audio
    from chaffee_assets.speech.asr.windows import window_parts

    while (task := tasks.get()) is not None:
        key, path = task
        results.put((worker, "start", key, None))
        try:
            for part in window_parts(audio.blocks(path), window_s):
                results.put((worker, "part", key, part))
            results.put((worker, "last", key, None))
        except Exception as exc:  # handed to the parent, which fails only this file
            results.put((worker, "error", key, _picklable(exc)))
    results.put((worker, "exit", None, None))


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
