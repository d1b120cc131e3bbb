import threading
import time

from chaffee_assets.speech.prefetch import prefetch


def test_loads_ahead_in_order_and_isolates_errors():
    loaded_while_consuming = []

    def load(key):
        if key == "bad":
            raise ValueError("corrupt")
        loaded_while_consuming.append((key, threading.current_thread().name))
        return key.upper()

    out = []
    for item in prefetch(["a", "bad", "c", "d"], load, depth=2):
        time.sleep(0.05)  # the consumer is slower than the loader: the queue fills
        out.append((item.key, item.value, type(item.error).__name__ if item.error else None))
    assert out == [("a", "A", None), ("bad", None, "ValueError"), ("c", "C", None), ("d", "D", None)]
    assert {name for _, name in loaded_while_consuming} == {"prefetch"}


def test_queue_is_bounded_and_early_exit_stops_the_worker():
    started = []

    def load(key):
        started.append(key)
        return key

    gen = prefetch([str(i) for i in range(100)], load, depth=2)
    first = next(gen)
    time.sleep(0.1)
    assert first.key == "0" and len(started) <= 4  # 1 taken + at most 2 queued + 1 in hand
    gen.close()
    assert len(started) < 100
