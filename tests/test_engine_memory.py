"""Memory channels: FCFS service, latency on an idle channel, bandwidth, prefetch, contention."""

from __future__ import annotations

import pytest

from spatialsim.costmodel.params import CostParams
from spatialsim.engine.memory import MemoryChannel, Stream
from spatialsim.engine.memsys import MemorySystem
from spatialsim.errors import UserError
from spatialsim.hardware.platform import get_platform


def test_requests_queue_first_come_first_served() -> None:
    ch = MemoryChannel("HBM[0]")
    log = [ch.request(0, 1000, 10, 20), ch.request(0, 1000, 10, 20), ch.request(500, 1000, 10, 20)]
    # first pays latency (20) + 100; the second streams on behind it; the third finds the
    # channel idle again and pays the latency
    assert log == [120, 220, 620]
    assert ch.busy_cycles == 300 and ch.bytes_read == 3000 and ch.requests == 3


def test_writes_are_counted_apart_from_reads() -> None:
    ch = MemoryChannel("HBM[0]")
    ch.request(0, 64, 8, 0, write=True)
    assert ch.bytes_written == 64 and ch.bytes_read == 0


def test_a_stream_splits_over_its_ports_and_waits_for_the_slowest() -> None:
    a, b = MemoryChannel("a"), MemoryChannel("b")
    b.busy_until = 50  # someone else is using b
    s = Stream([a, b], [10.0, 10.0], [5.0, 5.0], prefetch=0.0, write=False, launch=0.0)
    assert s.request(0, 200) == 60  # a: 5 + 10 = 15; b: queued behind, 50 + 10
    assert a.bytes_read == b.bytes_read == 100


def test_prefetch_lets_a_read_start_before_it_is_issued_but_not_before_launch() -> None:
    ch = MemoryChannel("c")
    s = Stream([ch], [10.0], [0.0], prefetch=30.0, write=False, launch=100.0)
    assert s.request(200, 100) == 200  # data already there when the consumer asks
    assert ch.busy_until == 180  # it streamed during [170, 180], ahead of the ask
    ch2 = MemoryChannel("d")
    s2 = Stream([ch2], [10.0], [0.0], prefetch=30.0, write=False, launch=100.0)
    assert s2.request(110, 100) == 110  # cannot start before the launch at 100


def test_contention_two_masters_share_one_channel_bandwidth() -> None:
    mem = MemorySystem(get_platform("u280"), 250.0, CostParams())
    one = mem.open(("HBM[3]",), 512, 0, 2**22, write=False, launch=0.0)
    two = mem.open(("HBM[3]",), 512, 0, 2**22, write=False, launch=0.0)
    # 13.2 GB/s at 250 MHz is 52.8 bytes per cycle
    assert one.rates[0] == pytest.approx(52.8)
    done = [one.request(0, 52_800), two.request(0, 52_800)]
    lat = one.latencies[0]
    assert done[0] == pytest.approx(lat + 1000)
    assert done[1] == pytest.approx(lat + 2000)


def test_narrow_ports_are_limited_by_the_port_not_the_channel() -> None:
    mem = MemorySystem(get_platform("u280"), 250.0, CostParams())
    s = mem.open(("HBM[3]",), 128, 0, 2**22, write=False, launch=0.0)
    assert s.rates[0] == pytest.approx(16.0)  # 128 bits per cycle = 4 GB/s at 250 MHz


def test_unknown_channel_is_a_user_error() -> None:
    mem = MemorySystem(get_platform("u280"), 250.0, CostParams())
    with pytest.raises(UserError, match="HBM\\[40\\]"):
        mem.open(("HBM[40]",), 512, 0, 1024, write=False, launch=0.0)


def test_outstanding_reads_bound_a_port_by_littles_law() -> None:
    """Few reads in flight cannot hide the channel's latency: the port draws at most
    outstanding x burst bytes per round trip; with the Vitis defaults the channel binds."""
    platform = get_platform("u280")
    default = MemorySystem(platform, 250.0, CostParams()).open(
        ("HBM[3]",), 512, 0, 2**22, write=False, launch=0.0
    )
    assert default.rates[0] == pytest.approx(52.8)  # the 13.2 GB/s channel, not the port
    starved = MemorySystem(
        platform, 250.0, CostParams(axi_outstanding_reads=1, axi_burst_beats=4)
    ).open(("HBM[3]",), 512, 0, 2**22, write=False, launch=0.0)
    lat_ns = starved.latencies[0] / 250.0 * 1e3
    assert starved.rates[0] == pytest.approx(256 / lat_ns * 1e3 / 250.0)  # bytes per cycle
    assert starved.rates[0] < default.rates[0] / 5
    # the run-ahead window is the same outstanding bursts
    assert starved.prefetch == pytest.approx(256 / starved.rates[0])
    assert default.prefetch == pytest.approx(16 * 16 * 64 / 52.8)
