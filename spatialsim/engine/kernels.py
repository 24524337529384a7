"""Kernel processes: the primitives a kernel kind's body uses to move words and spend time.

One :class:`Kernel` runs one layer launch as a SimPy process. It moves words (one feature
of a pack) through its FIFOs in chunks whose size the :class:`Granularity` fixes (whole
fractions of a row in coarse mode, single words in fine mode) and spends cycles the cost
models give. Every waiting moment is charged to one state: busy, starved (empty input),
blocked (full output) or hbm_wait (memory), so the four add up to the kernel's active time.

What a kernel reads, computes and writes, in HLS order, is its kind's body
(``spatialsim/kinds/``, chen2024.md 3); this module provides the primitives the bodies call.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from spatialsim.constants import BLOCKED, BUSY, HBM_WAIT, STARVED
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.engine.fifo import Fifo
from spatialsim.engine.memory import Stream
from spatialsim.engine.memsys import MemorySystem
from spatialsim.kinds import kind
from spatialsim.kinds.base import KernelParams, split
from spatialsim.metrics.recorder import KernelProbe

Proc = Generator[simpy.Event, Any, None]


@dataclass(frozen=True)
class Granularity:
    """How finely transfers are cut: ``chunks_per_row`` pieces per row, or one word each.

    Coarse mode (the default) makes the event count scale with packs and rows, never with
    cycles; fine mode (``chunks_per_row`` = None) moves one FIFO word per event and is meant
    for small designs and for checking the coarse mode.
    """

    chunks_per_row: int | None = 4

    @property
    def label(self) -> str:
        return "fine" if self.chunks_per_row is None else f"coarse/{self.chunks_per_row}"

    def split(self, total: int) -> tuple[int, ...]:
        if total <= 0:
            return ()
        if self.chunks_per_row is None:
            return split(total, total)
        return split(total, self.chunks_per_row)


class Kernel:
    """One kernel of the design graph for one layer launch.

    ``p`` is its kind's typed parameters; ``handoff_ins`` names the producers whose output
    is a buffer handed over whole (K, V, Q) rather than a stream.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        p: KernelParams,
        step: Work,
        ins: dict[str, Fifo],
        outs: list[Fifo],
        probe: KernelProbe,
        mem: MemorySystem,
        params: CostParams,
        gran: Granularity,
        handoff_ins: frozenset[str],
    ) -> None:
        self.env = env
        self.name = name
        self.p: Any = p
        self.kind: str = p.KIND
        self.step = step
        self.ins = ins  # keyed by the producing kernel's name
        self.handoff_ins = handoff_ins
        self.outs = outs
        self.charge = probe.charge  # (state, cycles, waited on) to the metrics
        self.span = probe.span if probe.recording else None  # (state, start, end)
        self.busy_cycles = 0.0  # charged once when the launch ends: busy() is the hot path
        self.mem = mem
        self.params = params
        self.gran = gran
        self.launch = env.now
        self.ahead = 0.0  # cycles this kernel has run ahead of the shared clock
        self.waiting: tuple[Fifo, str] | None = None
        self.done = False

    # -- time: a kernel runs ahead of the shared clock until it touches shared state -----
    @property
    def now(self) -> float:
        """This kernel's own cycle: the shared clock plus the time it has spent alone since
        it last touched a FIFO, a memory channel or a link (see :meth:`sync`)."""
        return self.env.now + self.ahead

    def sync(self) -> Proc:
        """Let the shared clock catch up with this kernel before it touches shared state.

        Time a kernel spends on its own (computing, waiting for memory it has already
        requested, processing words it has already taken) affects nobody until its next
        transfer, so consecutive stretches of it are one SimPy timeout, not one each; the
        transfer then happens at exactly the cycle it would have.
        """
        ahead = self.ahead
        if ahead:
            self.ahead = 0.0
            env = self.env
            target = env.now + ahead  # the cycle the timeout would fire at, to the bit
            if target < env.peek():
                # nothing else happens before then: the timeout would be the very next
                # event, so move the clock there and go on (one event fewer, same order)
                env._now = target
                return
            yield env.timeout(ahead)

    # -- primitives (generators: ``yield from``) ------------------------------------------
    def busy(self, cycles: float) -> Proc:
        if cycles > 0:
            start = self.env.now + self.ahead
            self.ahead += cycles
            self.busy_cycles += cycles
            if self.span is not None:
                self.span(BUSY, start, start + cycles)
        return
        yield  # a generator that spends time without an event

    def request(self, stream: Stream, nbytes: float) -> Generator[simpy.Event, Any, float]:
        """Issue ``nbytes`` on a memory stream at this kernel's cycle; return when they
        complete (channels serve requests in the order of the cycles they are issued)."""
        if self.ahead:
            yield from self.sync()
        return stream.request(self.env.now, nbytes)

    def get(self, fifo: Fifo, words: int) -> Proc:
        """Take ``words``; charge the wait (and any link latency) as starved."""
        yield from self.take(fifo, words, 0.0, 0.0)

    def take(self, fifo: Fifo, words: int, cycles: float, last_word: float) -> Proc:
        """Take ``words`` and process them for ``cycles`` (``last_word`` for the last one).

        Cut-through: when the kernel had to wait for words that trickled out of the
        producer over ``span`` cycles, it would have processed them as they arrived, so
        the overlap of its work with that arrival is charged as busy, not starved; only
        what is left after the last word arrives still takes time (run ahead: no event).
        """
        env = self.env
        if self.ahead:
            yield from self.sync()
        t0 = env.now
        ev = fifo.get(words)
        if ev is not None:
            self.waiting = (fifo, "get")
            yield ev
            self.waiting = None
        now = env.now
        arrived = now
        if fifo.latency:
            ready = fifo.ready_at(ev is not None)
            if ready > now:
                arrived = ready
        remaining = cycles
        if ev is not None and cycles > 0 and fifo.span > 0:
            start = max(t0, arrived - fifo.span)
            remaining = max(last_word, start + cycles - arrived)
        delay = arrived - now + remaining
        if delay > 0:
            self.ahead = delay
        starved = arrived - t0 - (cycles - remaining)
        if starved > 0:
            self.charge(STARVED, starved, fifo.name)
        else:
            starved = 0.0
        self.busy_cycles += cycles
        if self.span is not None:
            self.span(STARVED, t0, t0 + starved)
            self.span(BUSY, t0 + starved, now + self.ahead)

    def put(self, fifo: Fifo, words: int, span: float = 0.0) -> Proc:
        if self.ahead:
            yield from self.sync()
        if fifo.link is not None:  # an inter-card (or on-chip ring) link: serialise first
            yield from self._serialise(fifo, words)
        ev = fifo.put(words, span)
        if ev is not None:
            yield from self._blocked(fifo, ev)

    def _blocked(self, fifo: Fifo, ev: simpy.Event) -> Proc:
        """Wait for a put that did not fit; charged as blocked on ``fifo``."""
        t0 = self.env.now
        self.waiting = (fifo, "put")
        yield ev
        self.waiting = None
        now = self.env.now
        self.charge(BLOCKED, now - t0, fifo.name)
        if self.span is not None:
            self.span(BLOCKED, t0, now)

    def emit(self, words: int, fifos: list[Fifo] | None = None, span: float = 0.0) -> Proc:
        """Write ``words`` to each output FIFO (one word per transfer in fine mode);
        ``span``: cycles spent producing them (0 for a finished block)."""
        targets = self.outs if fifos is None else fifos
        if self.ahead:
            yield from self.sync()
        if self.gran.chunks_per_row is None:
            for fifo in targets:
                for _ in range(words):
                    yield from self.put(fifo, 1, span / words if words else 0.0)
            return
        for fifo in targets:  # the common case inline: an on-chip FIFO with room
            if fifo.link is not None:
                yield from self.put(fifo, words, span)
                continue
            ev = fifo.put(words, span)
            if ev is not None:
                yield from self._blocked(fifo, ev)

    def send(self, fifo: Fifo, words: int) -> Proc:
        """Send ``words`` over the link behind ``fifo`` (a put: any FIFO with a link
        waits for the link to serialise what it writes)."""
        yield from self.put(fifo, words)

    def _serialise(self, fifo: Fifo, words: int) -> Proc:
        """Wait for the link to serialise ``words`` (charged as blocked on the link: the
        output is not accepting faster); they reach the far side's buffer after that."""
        now = self.env.now
        ready = fifo.link.request(now, words * fifo.width_bits / 8)
        if ready > now:
            yield self.env.timeout(ready - now)
            self.charge(BLOCKED, ready - now, fifo.name)
            if self.span is not None:
                self.span(BLOCKED, now, ready)

    def wait_memory(self, ready: float) -> Proc:
        """Wait until memory requested earlier is ready (run ahead: no event)."""
        now = self.env.now + self.ahead
        if ready > now:
            self.ahead += ready - now
            self.charge(HBM_WAIT, ready - now, ",".join(getattr(self.p, "ports", ())))
            if self.span is not None:
                self.span(HBM_WAIT, now, ready)
        return
        yield

    def consume(self, fifo: Fifo, words: int, cycles_per_word: float = 1.0) -> Proc:
        """Read ``words`` in chunks, spending ``cycles_per_word`` on each (a pipelined loop)."""
        for w in self.gran.split(words):
            yield from self.take(fifo, w, w * cycles_per_word, cycles_per_word)

    def produce(
        self, words: int, cycles_per_word: float = 1.0, fifos: list[Fifo] | None = None
    ) -> Proc:
        """Compute then write ``words`` in chunks, ``cycles_per_word`` each."""
        for w in self.gran.split(words):
            yield from self.busy(w * cycles_per_word)
            yield from self.emit(w, fifos, w * cycles_per_word)

    def open(self, extent_bytes: float, write: bool = False) -> Stream:
        p = self.p
        return self.mem.open(p.ports, p.port_bits, p.slr, extent_bytes, write, self.launch)

    def stream_in(self) -> Fifo:
        """The single streaming input (not a buffer hand-off)."""
        for src, fifo in self.ins.items():
            if src not in self.handoff_ins:
                return fifo
        raise RuntimeError(f"kernel {self.name} has no stream input")

    def handoffs(self) -> list[Fifo]:
        """Inputs that pass a whole on-chip buffer (K, V or Q) once it is complete."""
        return [f for src, f in self.ins.items() if src in self.handoff_ins]

    def run(self) -> Proc:
        yield from kind(self.kind).body(self)
        yield from self.sync()
        self.charge(BUSY, self.busy_cycles)
        self.done = True
