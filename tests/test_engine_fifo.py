"""FIFO semantics in SimPy style: tiny processes log (name, time) and the whole log is checked."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import simpy

from spatialsim.engine.fifo import Fifo

Log = list[tuple[Any, ...]]


def producer(
    env: simpy.Environment, fifo: Fifo, log: Log, chunks: list[int], gap: float
) -> Generator[simpy.Event, Any, None]:
    for i, n in enumerate(chunks):
        yield env.timeout(gap)
        ev = fifo.put(n)
        log.append(("put", i, env.now, "blocked" if ev else "accepted"))
        if ev is not None:
            yield ev
            log.append(("put-done", i, env.now))


def consumer(
    env: simpy.Environment, fifo: Fifo, log: Log, chunks: list[int], work: float
) -> Generator[simpy.Event, Any, None]:
    for i, n in enumerate(chunks):
        ev = fifo.get(n)
        if ev is not None:
            yield ev
        log.append(("got", i, env.now))
        yield env.timeout(work)


def test_back_pressure_blocks_the_producer_until_the_consumer_drains() -> None:
    env = simpy.Environment()
    fifo = Fifo(env, "f", 2, "p", "c")
    log: Log = []
    env.process(producer(env, fifo, log, [1, 1, 1, 1], gap=1))
    env.process(consumer(env, fifo, log, [1, 1, 1, 1], work=0))
    env.run()
    # consumer takes each word as it arrives: no blocking, everything at the put time
    assert log == [
        ("put", 0, 1, "accepted"),
        ("got", 0, 1),
        ("put", 1, 2, "accepted"),
        ("got", 1, 2),
        ("put", 2, 3, "accepted"),
        ("got", 2, 3),
        ("put", 3, 4, "accepted"),
        ("got", 3, 4),
    ]

    env = simpy.Environment()
    fifo = Fifo(env, "f", 2, "p", "c")
    log = []
    env.process(producer(env, fifo, log, [1, 1, 1, 1], gap=1))
    env.process(slow_start(env, fifo, log))
    env.run()
    # depth 2: the third word blocks until the consumer starts at t=10; the fourth finds
    # the FIFO full again and waits for the consumer's next get at t=12
    assert log == [
        ("put", 0, 1, "accepted"),
        ("put", 1, 2, "accepted"),
        ("put", 2, 3, "blocked"),
        ("got", 0, 10),
        ("put-done", 2, 10),
        ("put", 3, 11, "blocked"),
        ("got", 1, 12),
        ("put-done", 3, 12),
        ("got", 2, 14),
        ("got", 3, 16),
    ]


def slow_start(env: simpy.Environment, fifo: Fifo, log: Log) -> Generator[simpy.Event, Any, None]:
    yield env.timeout(10)
    for i in range(4):
        ev = fifo.get(1)
        if ev is not None:
            yield ev
        log.append(("got", i, env.now))
        yield env.timeout(2)


def test_a_chunk_larger_than_the_fifo_streams_through_a_waiting_consumer() -> None:
    env = simpy.Environment()
    fifo = Fifo(env, "f", 4, "p", "c")
    log: Log = []
    env.process(consumer(env, fifo, log, [64], work=0))
    env.process(producer(env, fifo, log, [64], gap=5))
    env.run()
    assert log == [("put", 0, 5, "accepted"), ("got", 0, 5)]
    assert fifo.level == 0


def test_a_chunk_larger_than_the_fifo_blocks_without_a_consumer() -> None:
    env = simpy.Environment()
    fifo = Fifo(env, "f", 16, "p", "c")
    log: Log = []
    env.process(producer(env, fifo, log, [100], gap=1))
    env.run()
    assert log == [("put", 0, 1, "blocked")]
    assert fifo.level == 16 and fifo.blocked_put == 84


def test_consumer_waits_for_a_whole_chunk_assembled_from_several_puts() -> None:
    env = simpy.Environment()
    fifo = Fifo(env, "f", 8, "p", "c")
    log: Log = []
    env.process(consumer(env, fifo, log, [6], work=0))
    env.process(producer(env, fifo, log, [2, 2, 2], gap=3))
    env.run()
    assert log == [
        ("put", 0, 3, "accepted"),
        ("put", 1, 6, "accepted"),
        ("put", 2, 9, "accepted"),
        ("got", 0, 9),
    ]


def test_same_time_events_keep_scheduling_order() -> None:
    """Two consumers woken at the same instant resume in the order their puts happened."""
    env = simpy.Environment()
    a, b = Fifo(env, "a", 1, "p", "ca"), Fifo(env, "b", 1, "p", "cb")
    log: Log = []

    def waiter(name: str, fifo: Fifo) -> Generator[simpy.Event, Any, None]:
        ev = fifo.get(1)
        assert ev is not None
        yield ev
        log.append((name, env.now))

    def both() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(3)
        b.put(1)
        a.put(1)

    env.process(waiter("a", a))
    env.process(waiter("b", b))
    env.process(both())
    env.run()
    assert log == [("b", 3), ("a", 3)]


def test_occupancy_is_time_weighted_and_max_is_recorded() -> None:
    env = simpy.Environment()
    fifo = Fifo(env, "f", 4, "p", "c")

    def proc() -> Generator[simpy.Event, Any, None]:
        fifo.put(4)  # level 4 during [0, 10)
        yield env.timeout(10)
        fifo.get(3)  # level 1 during [10, 30)
        yield env.timeout(20)
        fifo.get(1)

    env.process(proc())
    env.run()
    fifo.monitor.close(40)  # level 0 during [30, 40)
    assert fifo.monitor.area == pytest.approx(4 * 10 + 1 * 20)
    assert fifo.monitor.max_level == 4
    assert fifo.monitor.area / 40 == pytest.approx(1.5)


def test_output_staging_adds_room_but_not_occupancy() -> None:
    env = simpy.Environment()
    fifo = Fifo(env, "f", 4, "p", "c", staging=32)
    assert fifo.put(32) is None  # a finished block fits the output registers
    assert fifo.monitor.max_level == 4  # the FIFO proper holds at most its depth
    assert fifo.put(8) is not None  # beyond depth + staging the producer blocks


def test_link_latency_delays_only_fresh_words() -> None:
    env = simpy.Environment()
    fifo = Fifo(env, "link", 16, "p", "c", latency=4)

    def proc() -> Generator[simpy.Event, Any, None]:
        fifo.put(2)
        assert fifo.ready_at(handed_off=False) == 4  # put at 0, usable at 4
        yield env.timeout(10)
        fifo.get(2)
        fifo.put(1)  # refilled at 10
        assert fifo.ready_at(handed_off=False) == 14

    env.process(proc())
    env.run()


def test_misuse_is_refused() -> None:
    env = simpy.Environment()
    with pytest.raises(ValueError, match="capacity"):
        Fifo(env, "f", 0, "p", "c")
    fifo = Fifo(env, "f", 1, "p", "c")
    assert fifo.put(5) is not None
    with pytest.raises(RuntimeError, match="second put"):
        fifo.put(1)
