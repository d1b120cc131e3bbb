import threading
import time

from chaffee_assets.speech.asr.prefetch import prefetch


def test_parts_come_ahead_in_order_and_errors_close_their_item():
    made_on = []

    def parts(key):
        for i in range(2):
            if key == "bad" and i == 1:
                raise ValueError("corrupt")
            made_on.append(threading.current_thread().name)
            yield f"{key}{i}"

    out = []
    for item in prefetch(["a", "bad", "c"], parts, depth=2):
        time.sleep(0.05)  # the consumer is slower than the producer: the queue fills
        out.append((item.key, item.value, type(item.error).__name__ if item.error else None, item.last))
    assert out == [
        ("a", "a0", None, False), ("a", "a1", None, False), ("a", None, None, True),
        ("bad", "bad0", None, False), ("bad", None, "ValueError", True),
        ("c", "c0", None, False), ("c", "c1", None, False), ("c", None, None, True),
    ]
    assert set(made_on) == {"prefetch"}


def test_queue_is_bounded_and_early_exit_stops_the_worker():
    started = []

    def parts(key):
        started.append(key)
        yield key

    gen = prefetch([str(i) for i in range(100)], parts, depth=2)
    first = next(gen)
    time.sleep(0.1)
    assert first.key == "0" and len(started) <= 3  # records: 1 taken + at most 2 queued + 1 in hand
    gen.close()
    assert len(started) < 100
