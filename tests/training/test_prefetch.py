"""DevicePrefetcher: order kept, `size` batches in flight, the consumer's wait measured, producer errors raised."""

import threading
import time

import numpy as np
import pytest

from rosmo.training.prefetch import DevicePrefetcher


def test_batches_come_in_order_with_at_most_size_ahead():
    produced = []

    def source():
        for i in range(6):
            produced.append(i)
            yield {"x": np.full(2, i)}

    put_threads = set()

    def put(batch):
        put_threads.add(threading.current_thread().name)
        return {k: v * 10 for k, v in batch.items()}

    batches = DevicePrefetcher(source(), put, size=2)
    time.sleep(0.3)
    assert len(produced) <= 2 + 1  # two queued, one being read
    first = next(batches)
    assert int(first["x"][0]) == 0 and len(batches._on_device) == 1
    batches.refill()  # after dispatching an update: two on the device again
    assert len(batches._on_device) == 2
    assert [int(b["x"][0]) for b in batches] == [10, 20, 30, 40, 50]
    assert put_threads == {threading.main_thread().name}  # copies are issued by the consumer (see the module docstring)
    batches.close()


def test_the_wait_for_slow_data_is_measured_and_errors_reach_the_consumer():
    def slow():
        for i in range(3):
            time.sleep(0.2)
            yield {"x": np.asarray(i)}
        raise ValueError("shard 3 is truncated")

    batches = DevicePrefetcher(slow(), lambda b: b)
    for _ in range(3):
        next(batches)
    assert 0.45 < batches.take_wait_seconds() < 1.5 and batches.take_wait_seconds() == 0.0
    with pytest.raises(ValueError, match="truncated"):
        next(batches)
    batches.close()


def test_close_stops_a_producer_blocked_on_a_full_queue():
    def endless():
        while True:
            yield {"x": np.zeros(1)}

    batches = DevicePrefetcher(endless(), lambda b: b, size=1)
    next(batches)
    batches.close()
    assert not batches._thread.is_alive()
