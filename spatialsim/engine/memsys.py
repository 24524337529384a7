"""The platform's memory channels and how a kernel's ports reach them.

Builds one :class:`MemoryChannel` per HBM pseudo-channel, DDR channel and the PCIe link,
and opens :class:`Stream` objects for kernels with rates and latencies from the memory cost
model (request-size curve, port width x clock, switch and SLR-crossing latency).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spatialsim.costmodel.memory import (
    hbm_channel_rate_gbps,
    hbm_latency_ns,
    outstanding_rate_gbps,
    port_rate_gbps,
)
from spatialsim.costmodel.params import CostParams
from spatialsim.design.kernels import PORT_RE
from spatialsim.engine.memory import MemoryChannel, Stream
from spatialsim.errors import UserError
from spatialsim.hardware.platform import Platform
from spatialsim.metrics.recorder import ChannelProbe

PCIE = "PCIe"


class MemorySystem:
    """Every memory channel of a platform, shared by all kernels of a run."""

    def __init__(
        self,
        platform: Platform,
        clock_mhz: float,
        params: CostParams,
        probe: Callable[[str], ChannelProbe] | None = None,
        prefix: str = "",
    ) -> None:
        """``prefix`` names the card's channels in a multi-card run (``dev1.HBM[3]``);
        kernels still address them by port (``HBM[3]``)."""
        self.platform = platform
        self.clock_mhz = clock_mhz
        self.params = params
        self.channels: dict[str, MemoryChannel] = {}
        for kind, count in platform.memory_channels().items():
            for i in range(count):
                name = f"{kind}[{i}]"
                full = prefix + name
                self.channels[name] = MemoryChannel(full, probe(full) if probe else None)
        host = prefix + PCIE
        self.channels[PCIE] = MemoryChannel(host, probe(host) if probe else None)
        self._plans: dict[
            tuple[Any, ...], tuple[list[MemoryChannel], list[float], list[float], float]
        ] = {}

    def _cycles(self, ns: float) -> float:
        return ns * self.clock_mhz / 1e3

    def _bytes_per_cycle(self, gbps: float) -> float:
        return gbps * 1e3 / self.clock_mhz

    def channel_rate_gbps(self, port: str, extent_bytes: float, write: bool) -> float:
        """What channel ``port`` delivers to one master streaming ``extent_bytes``."""
        m = PORT_RE.match(port)
        if m is None or port not in self.channels:
            raise UserError(
                f"port {port!r} does not exist on platform {self.platform.name}; "
                f"channels: {', '.join(k for k in self.channels if k != PCIE)}"
            )
        if m.group(1) == "HBM":
            assert self.platform.hbm is not None
            rate = hbm_channel_rate_gbps(self.platform.hbm, extent_bytes, write)
            return rate * self.params.hbm_efficiency
        ddr = self.platform.ddr
        assert ddr is not None
        if write and ddr.write_bw_gbps is not None:
            return ddr.write_bw_gbps
        return ddr.effective_read_bw_gbps

    def latency_cycles(self, port: str, slr: int) -> float:
        """Idle access latency from a kernel in ``slr`` to channel ``port``."""
        hbm = self.platform.hbm
        if port.startswith("HBM") and hbm is not None:
            crossing = self.params.slr_crossing_cycles / self.clock_mhz * 1e3
            return self._cycles(hbm_latency_ns(hbm, abs(slr - hbm.attached_slr), crossing))
        return self.params.slr_crossing_cycles * slr

    def open(
        self,
        ports: tuple[str, ...],
        port_bits: int,
        slr: int,
        extent_bytes: float,
        write: bool,
        launch: float,
        run_ahead: bool = True,
    ) -> Stream:
        """A stream of ``extent_bytes`` over ``ports`` (split evenly) for one kernel. A read
        master runs ahead of its consumer by its outstanding bursts (not with
        ``run_ahead=False``, for microbenchmarks of the channel alone)."""
        key = (ports, port_bits, slr, extent_bytes, write, run_ahead)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(ports, port_bits, slr, extent_bytes, write, run_ahead)
            self._plans[key] = plan
        chans, rates, lats, prefetch = plan
        return Stream(chans, rates, lats, prefetch, write, launch)

    def _plan(
        self,
        ports: tuple[str, ...],
        port_bits: int,
        slr: int,
        extent_bytes: float,
        write: bool,
        run_ahead: bool,
    ) -> tuple[list[MemoryChannel], list[float], list[float], float]:
        """Channels, rates, latencies and run-ahead window of a stream: the same for every
        launch of a kernel, so computed once per distinct stream."""
        share = extent_bytes / len(ports)
        burst = self.params.axi_burst_beats * port_bits / 8
        window = self.params.axi_outstanding_reads * burst
        chans, rates, lats = [], [], []
        for port in ports:
            lat = self.latency_cycles(port, slr)
            gbps = min(
                port_rate_gbps(port_bits, self.clock_mhz),
                self.channel_rate_gbps(port, share, write),
                outstanding_rate_gbps(
                    self.params.axi_outstanding_reads, burst, lat / self.clock_mhz * 1e3
                ),
            )
            chans.append(self.channels[port])
            rates.append(self._bytes_per_cycle(gbps))
            lats.append(lat)
        prefetch = window / min(rates) if run_ahead and not write else 0.0
        return chans, rates, lats, prefetch

    def open_pcie(self, launch: float) -> Stream:
        """The host link (PCIe), one direction at a time."""
        rate = self._bytes_per_cycle(self.platform.pcie.bw_gbps)
        return Stream([self.channels[PCIE]], [rate], [0.0], 0.0, True, launch)
