"""Memory channels (HBM pseudo-channels, DDR channels, the PCIe link) as shared resources.

A channel serves requests first come, first served: a request occupies it for n / rate,
and pays the access latency when it finds the channel idle (back-to-back requests hide
their latency behind the previous transfer). A read master may run ahead of its consumer
by a bounded prefetch window, so a request may start up to that long before it is issued
if the channel was free then. Times are kernel clock cycles. No SimPy events are created
here: a request returns the cycle its data is complete, and the kernel waits if it must.
"""

from __future__ import annotations

from spatialsim.metrics.recorder import ChannelProbe


class MemoryChannel:
    """One channel: FCFS occupancy; its traffic (bytes, busy cycles) goes to ``probe``, the
    run's metrics when simulating, else a probe of its own."""

    __slots__ = ("busy_until", "name", "probe", "requests")

    def __init__(self, name: str, probe: ChannelProbe | None = None) -> None:
        self.name = name
        self.probe = probe if probe is not None else ChannelProbe(name)
        self.busy_until = 0.0
        self.requests = 0

    @property
    def bytes_read(self) -> float:
        return self.probe.bytes_read

    @property
    def bytes_written(self) -> float:
        return self.probe.bytes_written

    @property
    def busy_cycles(self) -> float:
        return self.probe.busy_cycles

    def request(
        self,
        earliest: float,
        nbytes: float,
        bytes_per_cycle: float,
        latency_cycles: float,
        write: bool = False,
    ) -> float:
        """Serve ``nbytes`` that may start at ``earliest``; return the cycle they complete.

        A request queued behind a transfer still running at ``earliest`` streams on from it;
        one that finds the channel idle pays the access latency first.
        """
        free = self.busy_until
        xfer = nbytes / bytes_per_cycle
        ready = free + xfer if free > earliest else earliest + latency_cycles + xfer
        self.busy_until = ready
        self.probe.transfer(ready, xfer, nbytes, write)
        self.requests += 1
        return ready


class Stream:
    """One kernel's sequential stream over its memory ports (reads or posted writes).

    The bytes of each request are split evenly over the ports (one engine per port). Rates,
    latencies and the prefetch window are fixed when the stream opens, from the cost model.
    """

    __slots__ = ("channels", "lanes", "latencies", "launch", "prefetch", "rates", "write")

    def __init__(
        self,
        channels: list[MemoryChannel],
        rates: list[float],
        latencies: list[float],
        prefetch: float,
        write: bool,
        launch: float,
    ) -> None:
        self.channels = channels
        self.rates = rates
        self.latencies = latencies
        self.prefetch = prefetch
        self.write = write
        self.launch = launch
        self.lanes = tuple(zip(channels, rates, latencies, strict=True))

    def request(self, now: float, nbytes: float) -> float:
        """Issue ``nbytes`` at ``now``; return the cycle the last port's share completes."""
        lanes = self.lanes
        share = nbytes / len(lanes)
        earliest = now
        if not self.write:
            earliest = now - self.prefetch
            if earliest < self.launch:
                earliest = self.launch
        ready = now
        write = self.write
        for ch, rate, lat in lanes:
            r = ch.request(earliest, share, rate, lat, write)
            if r > ready:
                ready = r
        return ready
