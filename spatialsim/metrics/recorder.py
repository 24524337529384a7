"""The recorder the engine reports to while it runs, one phase at a time.

The engine hands it kernel state accumulators, FIFO occupancy monitors and memory channel
counters; at the end :func:`spatialsim.metrics.result.build_result` turns it into a frozen
result. Nothing here knows about SimPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spatialsim.metrics.monitors import LevelMonitor, new_accumulator


@dataclass
class FifoRecord:
    """One FIFO in one phase: its depth and its occupancy monitor."""

    depth: int
    width_bits: int
    monitor: LevelMonitor


@dataclass
class ChannelRecord:
    """One memory channel in one phase."""

    bytes_read: float = 0.0
    bytes_written: float = 0.0
    busy_cycles: float = 0.0


@dataclass
class PhaseRecord:
    """Everything measured during one phase (prefill or decode).

    ``waits`` maps (kernel, state, what it waited on: a FIFO or memory ports) to cycles.
    """

    bitstream: str
    start: float = 0.0
    end: float = 0.0
    kernels: dict[str, list[float]] = field(default_factory=dict)
    kernel_kinds: dict[str, str] = field(default_factory=dict)
    fifos: dict[str, FifoRecord] = field(default_factory=dict)
    channels: dict[str, ChannelRecord] = field(default_factory=dict)
    waits: dict[tuple[str, str, str], float] = field(default_factory=dict)
    launches: int = 0

    @property
    def cycles(self) -> float:
        return self.end - self.start


class Recorder:
    """Collects a run's measurements; the engine calls it, the result reads it."""

    def __init__(self) -> None:
        self.phases: dict[str, PhaseRecord] = {}
        self.token_cycles: list[float] = []
        self.events = 0

    def begin_phase(self, phase: str, bitstream: str, now: float) -> PhaseRecord:
        rec = PhaseRecord(bitstream=bitstream, start=now, end=now)
        self.phases[phase] = rec
        return rec

    def kernel(self, phase: str, name: str, kind: str) -> list[float]:
        """The state accumulator of ``name`` in ``phase`` (created on first use)."""
        rec = self.phases[phase]
        acc = rec.kernels.get(name)
        if acc is None:
            acc = rec.kernels[name] = new_accumulator()
            rec.kernel_kinds[name] = kind
        return acc

    def fifo_monitor(self, phase: str, name: str, depth: int, width_bits: int, now: float,
                     level: int) -> LevelMonitor:
        mon = LevelMonitor(now, level)
        self.phases[phase].fifos[name] = FifoRecord(depth, width_bits, mon)
        return mon

    def channel_totals(self, phase: str, name: str, bytes_read: float, bytes_written: float,
                       busy_cycles: float) -> None:
        self.phases[phase].channels[name] = ChannelRecord(bytes_read, bytes_written,
                                                          busy_cycles)

    def token(self, cycles: float) -> None:
        self.token_cycles.append(cycles)
