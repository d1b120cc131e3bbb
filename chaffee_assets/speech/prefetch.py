"""Keep the model fed: load the next items on a CPU thread (bounded queue) while the current one runs."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Loaded:
    key: str
    value: Any = None  # the loaded item, or None when loading failed
    error: Exception | None = None
    queued: int = 0  # items waiting in the queue when this one was taken (the io queue depth)


def prefetch(keys: Iterable[str], load: Callable[[str], Any], depth: int = 2) -> Iterator[Loaded]:
    """Yield Loaded(key, load(key)) in order; up to `depth` items are loaded ahead on a worker thread.

    A failing load is yielded as Loaded(key, error=...) so one bad item never stops the others.
    """
    q: queue.Queue = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def work() -> None:
        for key in keys:
            if stop.is_set():
                return
            try:
                item = Loaded(key, load(key))
            except Exception as exc:  # handed to the consumer, which records it per item
                item = Loaded(key, error=exc)
            q.put(item)
        q.put(None)

    worker = threading.Thread(target=work, name="prefetch", daemon=True)
    worker.start()
    try:
        while (item := q.get()) is not None:
            item.queued = q.qsize()
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting on a full queue, then let it finish
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
