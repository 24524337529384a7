"""Inter-card links as shared channels, and routes over them.

Every directed link of a :class:`~spatialsim.hardware.cluster.Cluster` is one
:class:`~spatialsim.engine.memory.MemoryChannel`: it carries one transfer at a time, first
come first served, so collectives and point-to-point sends that share a link contend for it
the way kernels contend for an HBM channel. A :class:`Route` is the list of links a
transfer between two cards crosses; it occupies each of them for the transfer's time
(cut-through forwarding) and its words become usable at the far end one hop latency per
link later (the FIFO's latency, set by the engine). Times are kernel clock cycles.
"""

from __future__ import annotations

from collections.abc import Callable

from spatialsim.costmodel.params import CostParams
from spatialsim.engine.memory import MemoryChannel
from spatialsim.hardware.cluster import Cluster
from spatialsim.metrics.recorder import ChannelProbe


class Route:
    """A transfer path between two cards over one or more links."""

    __slots__ = ("channels", "latency", "name", "rates")

    def __init__(
        self, name: str, channels: list[MemoryChannel], rates: list[float], latency: float
    ) -> None:
        self.name = name
        self.channels = channels
        self.rates = rates  # bytes per cycle on each link
        self.latency = latency  # cycles from sending to usable at the far end

    def describe(self) -> str:
        return f"the inter-card route from card {self.name.replace('->', ' to card ')}"

    def request(self, now: float, nbytes: float) -> float:
        """Serialise ``nbytes`` onto every link of the route from ``now``; return when the
        last link has sent them (arrival adds :attr:`latency`)."""
        ready = now
        for ch, rate in zip(self.channels, self.rates, strict=True):
            r = ch.request(now, nbytes, rate, 0.0, True)
            if r > ready:
                ready = r
        return ready


class OnChipRing:
    """A ring FIFO between two compute units on one card (an AXI stream, not a cable):
    one word per cycle, no shared link channel; its latency is the FIFO's SLR crossing."""

    __slots__ = ("bytes_per_cycle", "name")

    def __init__(self, name: str, width_bits: int) -> None:
        self.name = name
        self.bytes_per_cycle = width_bits / 8

    def request(self, now: float, nbytes: float) -> float:
        return now + nbytes / self.bytes_per_cycle

    def describe(self) -> str:
        return f"the on-chip ring {self.name}"


class LinkSystem:
    """The links of a cluster, shared by every kernel and host transfer of a run."""

    def __init__(
        self,
        cluster: Cluster,
        clock_mhz: float,
        params: CostParams,
        probe: Callable[[str], ChannelProbe] | None = None,
    ) -> None:
        self.cluster = cluster
        self.clock_mhz = clock_mhz
        self.params = params
        self.specs = cluster.links()
        self.channels = {n: MemoryChannel(n, probe(n) if probe else None) for n in self.specs}

    def route(self, src: int, dst: int) -> Route:
        """The route from card ``src`` to card ``dst`` with its rates and latency."""
        hops = self.cluster.route(src, dst)
        eff = self.params.link_efficiency
        rates = [self.specs[h].payload_gbps * eff * 1e3 / self.clock_mhz for h in hops]
        if self.cluster.topology == "host":
            latency_ns = self.params.host_relay_us * 1e3
        else:
            latency_ns = self.params.link_hop_latency_ns * len(hops)
        name = f"{src}->{dst}"
        channels = [self.channels[h] for h in hops]
        return Route(name, channels, rates, latency_ns * self.clock_mhz / 1e3)

    def idle(self, now: float) -> bool:
        return all(c.busy_until <= now for c in self.channels.values())
