"""The recorder the engine reports to while it runs, through a narrow interface.

The engine holds probes and calls them; it never touches the recorder's tables:

- a :class:`KernelProbe` per kernel and phase: :meth:`KernelProbe.charge` a state (busy,
  starved, blocked, hbm_wait) with cycles, naming what was waited on, and (when recording
  a timeline) :meth:`KernelProbe.span` the interval it spent in that state;
- a :class:`FifoProbe` per FIFO and phase: level changes (time-weighted occupancy);
- a :class:`ChannelProbe` per memory channel: transfers (bytes and busy cycles);
- :meth:`Recorder.snapshot` and :meth:`Recorder.replay` for the identical-layer shortcut:
  the effect of one measured launch is added ``copies`` more times, here, where the tables
  are;
- launches, phases and generated tokens.

With ``timeline=True`` the probes also record spans, levels and transfers
(:mod:`spatialsim.metrics.timeline`). :func:`spatialsim.metrics.result.build_result` turns
a finished recorder into a frozen result. Nothing here knows about SimPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spatialsim.constants import STATES
from spatialsim.metrics.monitors import LevelMonitor, new_accumulator
from spatialsim.metrics.timeline import Launch, Timeline


class KernelProbe:
    """Where one kernel's time goes in one phase: cycles charged to each state, and for
    stalls what was waited on. A recording probe (``recording``) also takes spans."""

    __slots__ = ("acc", "keys", "name", "waits")
    recording = False

    def __init__(
        self, name: str, acc: list[float], waits: dict[tuple[str, str, str], float]
    ) -> None:
        self.name = name
        self.acc = acc
        self.waits = waits
        # per state, what was waited on -> its key in ``waits`` (built once, not per charge)
        self.keys: list[dict[str, tuple[str, str, str]]] = [{} for _ in STATES]

    def charge(self, state: int, cycles: float, on: str | None = None) -> None:
        """``cycles`` in ``state`` (an index into STATES); ``on``: the FIFO or memory ports
        waited on."""
        self.acc[state] += cycles
        if on is not None:
            keys = self.keys[state]
            key = keys.get(on)
            if key is None:
                key = keys[on] = (self.name, STATES[state], on)
            waits = self.waits
            waits[key] = waits.get(key, 0.0) + cycles

    def span(self, state: int, start: float, end: float) -> None:
        """The kernel was in ``state`` during [start, end) (kept only when recording)."""


class RecordingKernelProbe(KernelProbe):
    """A kernel probe that also records its spans for a timeline."""

    __slots__ = ("timeline",)
    recording = True

    def __init__(
        self,
        name: str,
        acc: list[float],
        waits: dict[tuple[str, str, str], float],
        timeline: Timeline,
    ) -> None:
        super().__init__(name, acc, waits)
        self.timeline = timeline

    def span(self, state: int, start: float, end: float) -> None:
        self.timeline.span(self.name, STATES[state], start, end)


class FifoProbe(LevelMonitor):
    """One FIFO's occupancy in one phase and its level changes, for a timeline (without
    one, a FIFO reports to a plain :class:`LevelMonitor`)."""

    __slots__ = ("name", "timeline")

    def __init__(self, name: str, start_t: float, timeline: Timeline) -> None:
        super().__init__(start_t, 0)
        self.name = name
        self.timeline = timeline

    def update(self, now: float, level: int) -> None:
        super().update(now, level)
        self.timeline.level(self.name, now, level)

    def close(self, now: float) -> None:
        LevelMonitor.update(self, now, self.level)  # the window ends; the level did not change


class ChannelProbe:
    """Bytes and busy cycles of one memory channel over the whole run (and its transfers,
    for a timeline)."""

    __slots__ = ("busy_cycles", "bytes_read", "bytes_written", "name", "timeline")

    def __init__(self, name: str, timeline: Timeline | None = None) -> None:
        self.name = name
        self.timeline = timeline
        self.bytes_read = 0.0
        self.bytes_written = 0.0
        self.busy_cycles = 0.0

    def transfer(self, end: float, cycles: float, nbytes: float, write: bool) -> None:
        """``nbytes`` moved in ``cycles`` ending at ``end``."""
        self.busy_cycles += cycles
        if write:
            self.bytes_written += nbytes
        else:
            self.bytes_read += nbytes
        if self.timeline is not None:
            self.timeline.transfer(self.name, end - cycles, end, nbytes)

    def totals(self) -> tuple[float, float, float]:
        return self.bytes_read, self.bytes_written, self.busy_cycles


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


@dataclass(frozen=True)
class Snapshot:
    """The counters of one phase at one moment (for the identical-layer replay)."""

    kernels: dict[str, tuple[float, ...]]
    fifos: dict[str, float]
    channels: dict[str, tuple[float, float, float]]
    waits: dict[tuple[str, str, str], float]
    launches: int


class Recorder:
    """Collects a run's measurements; the engine calls it, the result reads it."""

    def __init__(self, timeline: bool = False) -> None:
        self.phases: dict[str, PhaseRecord] = {}
        self.token_cycles: list[float] = []
        self.reconfig_cycles = 0.0
        self.stage_transfer_cycles = 0.0
        self.device_cycles: dict[int, float] = {}
        self.events = 0
        self.timeline = Timeline() if timeline else None
        self._channels: dict[str, ChannelProbe] = {}
        self._channel_mark: dict[str, tuple[float, float, float]] = {}

    # -- probes ---------------------------------------------------------------------------
    def channel(self, name: str) -> ChannelProbe:
        """The probe of memory channel ``name`` (one for the whole run)."""
        probe = self._channels.get(name)
        if probe is None:
            probe = self._channels[name] = ChannelProbe(name, self.timeline)
        return probe

    def kernel(self, phase: str, name: str, kind: str) -> KernelProbe:
        """The probe of kernel ``name`` in ``phase`` (its totals span every launch)."""
        rec = self.phases[phase]
        acc = rec.kernels.get(name)
        if acc is None:
            acc = rec.kernels[name] = new_accumulator()
            rec.kernel_kinds[name] = kind
        if self.timeline is not None:
            return RecordingKernelProbe(name, acc, rec.waits, self.timeline)
        return KernelProbe(name, acc, rec.waits)

    def fifo(self, phase: str, name: str, depth: int, width_bits: int, now: float) -> LevelMonitor:
        """The monitor FIFO ``name`` reports its level changes to in ``phase``."""
        probe = (
            FifoProbe(name, now, self.timeline)
            if self.timeline is not None
            else LevelMonitor(now, 0)
        )
        self.phases[phase].fifos[name] = FifoRecord(depth, width_bits, probe)
        return probe

    # -- phases, launches, tokens ---------------------------------------------------------
    def begin_phase(self, phase: str, bitstream: str, now: float) -> None:
        self.phases[phase] = PhaseRecord(bitstream=bitstream, start=now, end=now)
        self._channel_mark = {n: c.totals() for n, c in self._channels.items()}

    def end_phase(self, phase: str, now: float) -> None:
        """Close the phase's monitors and keep each channel's traffic during it."""
        rec = self.phases[phase]
        rec.end = now
        for f in rec.fifos.values():
            f.monitor.close(now)
        for n, c in self._channels.items():
            r0, w0, b0 = self._channel_mark.get(n, (0.0, 0.0, 0.0))
            rec.channels[n] = ChannelRecord(
                c.bytes_read - r0, c.bytes_written - w0, c.busy_cycles - b0
            )

    def launch_begin(self, phase: str, kernels: list[str]) -> None:
        self.phases[phase].launches += 1
        if self.timeline is not None:
            for name in kernels:
                if name not in self.timeline.kernel_order:
                    self.timeline.kernel_order.append(name)

    def launch_end(self, phase: str, step: int, start: float, end: float) -> None:
        if self.timeline is not None:
            self.timeline.launches.append(Launch(phase, step, start, end))

    def token(self, cycles: float) -> None:
        self.token_cycles.append(cycles)

    def stage_transfer(self, cycles: float) -> None:
        """The host waited ``cycles`` for activations to cross a pipeline-stage boundary."""
        self.stage_transfer_cycles += cycles

    def device_active(self, device: int, cycles: float) -> None:
        """Card ``device`` ran its stage's layers for ``cycles``."""
        self.device_cycles[device] = self.device_cycles.get(device, 0.0) + cycles

    def reconfiguration(self, cycles: float) -> None:
        """The device was reconfigured (prefill to decode bitstream) for ``cycles``."""
        self.reconfig_cycles += cycles

    # -- the identical-layer replay -------------------------------------------------------
    def snapshot(self, phase: str) -> Snapshot:
        rec = self.phases[phase]
        return Snapshot(
            kernels={n: tuple(a) for n, a in rec.kernels.items()},
            fifos={n: f.monitor.area for n, f in rec.fifos.items()},
            channels={n: c.totals() for n, c in self._channels.items()},
            waits=dict(rec.waits),
            launches=rec.launches,
        )

    def replay(
        self, phase: str, before: Snapshot, after: Snapshot, copies: int, now: float
    ) -> None:
        """Add ``copies`` times the effect of one launch (``after`` - ``before``), which
        ended with empty FIFOs; ``now`` is when the copies end."""
        rec = self.phases[phase]
        for name, acc in rec.kernels.items():
            prev = before.kernels.get(name, (0.0,) * len(acc))
            for i in range(len(acc)):
                acc[i] += copies * (after.kernels[name][i] - prev[i])
        for name, f in rec.fifos.items():
            LevelMonitor.update(f.monitor, now, 0)  # empty between launches, not a change
            f.monitor.area += copies * (after.fifos[name] - before.fifos[name])
        for name, c in self._channels.items():
            r0, w0, b0 = before.channels.get(name, (0.0, 0.0, 0.0))
            r1, w1, b1 = after.channels[name]
            c.bytes_read += copies * (r1 - r0)
            c.bytes_written += copies * (w1 - w0)
            c.busy_cycles += copies * (b1 - b0)
        for key, cycles in after.waits.items():
            rec.waits[key] += copies * (cycles - before.waits.get(key, 0.0))
        rec.launches += copies * (after.launches - before.launches)
        if self.timeline is not None and self.timeline.launches:
            self.timeline.launches[-1].copies = copies
            self.timeline.launches[-1].copies_end = now
