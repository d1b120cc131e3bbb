"""Keep the model fed: prepare the next items on a CPU thread (bounded queue) while the current one runs."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Loaded:
    key: str
    value: Any = None  # one part of the item (None on its closing record)
    error: Exception | None = None  # preparing the item failed; this record closes it
    last: bool = False  # the item's closing record: every part was handed over, or error is set
    queued: int = 0  # records waiting in the queue when this one was taken (the io queue depth)


def prefetch(keys: Iterable[str], parts: Callable[[str], Iterable[Any]], depth: int = 2) -> Iterator[Loaded]:
    """For each key in order, yield Loaded(key, part) for every part of parts(key), then a closing
    Loaded(key, last=True). The parts are produced up to `depth` records ahead on a worker thread.

    A failure while producing a key's parts closes that key with Loaded(key, error=..., last=True), so
    one bad item never stops the others.
    """
    q: queue.Queue = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def work() -> None:
        for key in keys:
            try:
                for part in parts(key):
                    if stop.is_set():
                        return
                    q.put(Loaded(key, part))
                closing = Loaded(key, last=True)
            except Exception as exc:  # handed to the consumer, which records it per item
                closing = Loaded(key, error=exc, last=True)
            if stop.is_set():
                return
            q.put(closing)
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
