"""Several cards of one kind joined by inter-card links: the machine a multi-FPGA run uses.

A :class:`Cluster` is N identical cards (a :class:`~spatialsim.hardware.platform.Platform`)
and a topology:

- ``ring``: card i is cabled to cards i - 1 and i + 1 (mod N) through its QSFP ports, one
  port each way (Hong 2022: the U280's two QSFP28 ports make the DFX ring). Traffic between
  cards that are not neighbours is forwarded along the shorter way round.
- ``p2p``: every pair of cards is cabled directly (needs N - 1 ports per card).
- ``host``: no cables; every transfer goes up one card's PCIe link into host memory and
  down the other card's PCIe link.

Each direction of a cable (and each direction of a card's PCIe link) is one link: a
channel that carries one transfer at a time, like an HBM channel. What a link delivers is
the line rate after the line coding (Aurora 64B/66B on QSFP28: Hong 2022, Chen 2024 model) times
an efficiency the cost model calibrates (the paper's alpha, Chen 2024 model). This module is
the hardware description only; the engine simulates the links.
"""

from __future__ import annotations

from dataclasses import dataclass

from spatialsim.errors import UserError, choices_message
from spatialsim.hardware.platform import Platform

TOPOLOGIES = ("ring", "p2p", "host")
# Aurora 64B/66B carries 64 payload bits in every 66 line bits (Hong 2022: about 3 % overhead).
AURORA_64B66B = 64 / 66
MAX_DEVICES = 64  # a bound on what one simulation holds, far above any appliance


@dataclass(frozen=True)
class Link:
    """One direction of one cable (or of a card's PCIe link): ``src`` -> ``dst``."""

    name: str
    src: int  # card index, or -1 for the host
    dst: int
    line_gbitps: float  # raw line rate
    coding: float  # payload bits per line bit

    @property
    def payload_gbps(self) -> float:
        """Payload bytes per ns (GB/s) before the calibrated efficiency."""
        return self.line_gbitps * self.coding / 8


@dataclass(frozen=True)
class Cluster:
    """``devices`` cards of platform ``card`` joined by ``topology``.

    ``link_gbitps`` overrides the cards' QSFP port rate (None: the platform's
    ``links.port_gbitps``); for ``host`` the PCIe rate is always the platform's.
    """

    card: Platform
    devices: int
    topology: str = "ring"
    link_gbitps: float | None = None

    def __post_init__(self) -> None:
        n = self.devices
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DEVICES:
            raise UserError(f"a cluster holds 1 to {MAX_DEVICES} cards, got {n!r}", field="devices")
        if self.topology not in TOPOLOGIES:
            raise UserError(choices_message("topology", self.topology, TOPOLOGIES))
        if self.link_gbitps is not None and not (0 < self.link_gbitps <= 1e6):
            raise UserError(
                f"link rate {self.link_gbitps!r} Gb/s must be a positive number up to 1e6",
                field="link_gbps",
            )
        ports = self.card.links.ports
        need = {"ring": 0 if n == 1 else (1 if n == 2 else 2), "p2p": n - 1, "host": 0}
        if need[self.topology] > ports:
            raise UserError(
                f"a {self.topology} of {n} {self.card.name} cards needs "
                f"{need[self.topology]} network ports per card; the {self.card.name} has "
                f"{ports} (links.ports). Use topology 'host' (through PCIe) or fewer cards",
                field="topology",
            )

    @property
    def port_gbitps(self) -> float:
        return self.link_gbitps if self.link_gbitps is not None else self.card.links.port_gbitps

    def links(self) -> dict[str, Link]:
        """Every directed link by name (``link0->1``, ``pcie0->host``, ``pcie host->0``)."""
        out: dict[str, Link] = {}
        n = self.devices
        if n == 1:
            return out
        if self.topology == "host":
            rate = self.card.pcie.bw_gbps * 8  # Platform.pcie is in GB/s of payload
            for i in range(n):
                out[f"pcie{i}->host"] = Link(f"pcie{i}->host", i, -1, rate, 1.0)
                out[f"pcie_host->{i}"] = Link(f"pcie_host->{i}", -1, i, rate, 1.0)
            return out
        pairs: set[tuple[int, int]] = set()
        if self.topology == "ring":
            for i in range(n):
                j = (i + 1) % n
                pairs |= {(i, j), (j, i)}
        else:
            pairs = {(i, j) for i in range(n) for j in range(n) if i != j}
        for i, j in sorted(pairs):
            name = f"link{i}->{j}"
            out[name] = Link(name, i, j, self.port_gbitps, AURORA_64B66B)
        return out

    def route(self, src: int, dst: int) -> tuple[str, ...]:
        """The links a transfer from card ``src`` to card ``dst`` crosses, in order."""
        n = self.devices
        for card in (src, dst):
            if not 0 <= card < n:
                raise UserError(f"card {card} is not in a cluster of {n}")
        if src == dst:
            return ()
        if self.topology == "host":
            return (f"pcie{src}->host", f"pcie_host->{dst}")
        if self.topology == "p2p":
            return (f"link{src}->{dst}",)
        forward = (dst - src) % n
        step = 1 if forward <= n - forward else -1
        hops, at = [], src
        while at != dst:
            nxt = (at + step) % n
            hops.append(f"link{at}->{nxt}")
            at = nxt
        return tuple(hops)

    def describe(self) -> str:
        if self.devices == 1:
            return f"1 x {self.card.name}"
        if self.topology == "host":
            how = f"through the host over PCIe ({self.card.pcie.bw_gbps:g} GB/s each way)"
        else:
            how = f"{self.topology} of {self.port_gbitps:g} Gb/s links (Aurora 64B/66B)"
        return f"{self.devices} x {self.card.name}, {how}"
