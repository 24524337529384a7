"""Kernel processes: the primitives a kernel kind's body uses to move words and spend time.

One :class:`Kernel` is one SimPy process that runs every launch of its kernel (a
:class:`Crew` wakes the kernels of a launch graph together and waits for all of them,
the way the host enqueues a layer's kernels and waits for their completion). It moves
words (one feature of a pack) through its FIFOs in chunks whose size the
:class:`Granularity` fixes (whole fractions of a row in coarse mode, single words in fine
mode) and spends cycles the cost models give. Every waiting moment is charged to one
state: busy, starved (empty input), blocked (full output) or hbm_wait (memory), so the four
add up to the kernel's active time.

What a kernel reads, computes and writes, in HLS order, is its kind's body
(``spatialsim/kinds/``, Chen 2024 designs); this module provides the primitives the bodies call.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import simpy
from simpy.events import URGENT

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


@lru_cache(maxsize=8192)
def _estimate(
    fn: Callable[..., Any], name: str, p: KernelParams, work: Work, params: CostParams
) -> Any:
    """A kind's cost estimate, shared by every simulation in this process (a calibration or
    a sweep simulates the same kernels over and over; estimates are pure functions of these
    arguments, all frozen)."""
    return fn(name, p, work, params)


class Kernel:
    """One kernel of the design graph, serving every launch of its launch graph.

    ``p`` is its kind's typed parameters; ``handoff_ins`` names the producers whose output
    is a buffer handed over whole (K, V, Q) rather than a stream. :meth:`reset` readies it
    for one launch (the step's work, the launch cycle, a start delay).
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        p: KernelParams,
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
        self.body = kind(self.kind).body
        self.ports_label = ",".join(getattr(p, "ports", ()))  # what an HBM wait waited on
        self.step: Work  # this launch's work, set by reset() before each launch
        self.delay = 0.0  # cycles after the launch before this kernel starts (reset)
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
        self._estimates: dict[tuple[Callable[..., Any], Work], Any] = {}

    def reset(self, step: Work, delay: float) -> None:
        """Ready for the next launch: ``step``'s work, starting ``delay`` cycles from now."""
        self.step = step
        self.delay = delay
        self.launch = self.env.now
        self.ahead = 0.0
        self.busy_cycles = 0.0
        self.waiting = None
        self.done = False

    # -- time: a kernel runs ahead of the shared clock until it touches shared state -----
    @property
    def now(self) -> float:
        """This kernel's own cycle: the shared clock plus the time it has spent alone since
        it last touched a FIFO, a memory channel or a link (see :meth:`sync`)."""
        return self.env._now + self.ahead

    def sync(self) -> Proc:
        """Let the shared clock catch up with this kernel before it touches shared state.

        Time a kernel spends on its own (computing, waiting for memory it has already
        requested, processing words it has already taken) affects nobody until its next
        transfer, so consecutive stretches of it are one SimPy timeout, not one each; the
        transfer then happens at exactly the cycle it would have. When nothing else is
        scheduled before that cycle the timeout would be the very next event, so the clock
        moves there without one (same order, one event fewer). The hot primitives inline
        this (``if self.ahead: ... _catch_up``); keep them in step.
        """
        ev = self._catch_up()
        if ev is not None:
            yield ev

    def _catch_up(self) -> simpy.Event | None:
        """Move the clock to this kernel's cycle, or return the timeout that will."""
        ahead = self.ahead
        if not ahead:
            return None
        self.ahead = 0.0
        env = self.env
        target = env._now + ahead  # the cycle the timeout would fire at, to the bit
        queue = env._queue
        if not queue or target < queue[0][0]:
            env._now = target  # nothing else happens before then
            return None
        return env.timeout(ahead)

    # -- primitives (generators: ``yield from``) ------------------------------------------
    def busy(self, cycles: float) -> tuple[()]:
        """Compute for ``cycles``: this kernel runs ahead of the shared clock (no event).

        A plain call: it returns an empty tuple, so a body written ``yield from
        k.busy(n)`` (as kinds were before it stopped being a generator) works unchanged."""
        if cycles > 0:
            start = self.env._now + self.ahead
            self.ahead += cycles
            self.busy_cycles += cycles
            if self.span is not None:
                self.span(BUSY, start, start + cycles)
        return ()

    def request(self, stream: Stream, nbytes: float) -> Generator[simpy.Event, Any, float]:
        """Issue ``nbytes`` on a memory stream at this kernel's cycle; return when they
        complete (channels serve requests in the order of the cycles they are issued)."""
        if self.ahead:
            ev = self._catch_up()
            if ev is not None:
                yield ev
        return stream.request(self.env._now, nbytes)

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
        ahead = self.ahead
        if ahead:  # _catch_up, inlined: this is the engine's hottest call
            self.ahead = 0.0
            t0 = env._now + ahead
            queue = env._queue
            if not queue or t0 < queue[0][0]:
                env._now = t0
            else:
                yield env.timeout(ahead)
        t0 = env._now
        ev = fifo.get(words)
        if ev is not None:
            self.waiting = fifo.wait_get
            yield ev
            self.waiting = None
        now = env._now
        arrived = now
        if fifo.latency:
            ready = fifo.ready_at(ev is not None)
            if ready > now:
                arrived = ready
        remaining = cycles
        if ev is not None and cycles > 0 and fifo.span > 0:
            start = arrived - fifo.span
            if start < t0:
                start = t0
            remaining = start + cycles - arrived
            if remaining < last_word:
                remaining = last_word
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
            ev = self._catch_up()
            if ev is not None:
                yield ev
        if fifo.link is not None:  # an inter-card (or on-chip ring) link: serialise first
            yield from self._serialise(fifo, words)
        ev = fifo.put(words, span)
        if ev is not None:
            yield from self._blocked(fifo, ev)

    def _blocked(self, fifo: Fifo, ev: simpy.Event) -> Proc:
        """Wait for a put that did not fit; charged as blocked on ``fifo``."""
        t0 = self.env.now
        self.waiting = fifo.wait_put
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
            ev = self._catch_up()
            if ev is not None:
                yield ev
        if self.gran.chunks_per_row is None:
            for fifo in targets:
                for _ in range(words):
                    yield from self.put(fifo, 1, span / words if words else 0.0)
            return
        for fifo in targets:  # the common case inline: an on-chip FIFO with room
            if fifo.link is not None:
                yield from self.put(fifo, words, span)
                continue
            blocked = fifo.put(words, span)
            if blocked is not None:
                yield from self._blocked(fifo, blocked)

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

    def wait_memory(self, ready: float) -> tuple[()]:
        """Wait until memory requested earlier is ready (run ahead: no event; a plain
        call, ``yield from`` works too, as for :meth:`busy`)."""
        now = self.env._now + self.ahead
        if ready > now:
            self.ahead += ready - now
            self.charge(HBM_WAIT, ready - now, self.ports_label)
            if self.span is not None:
                self.span(HBM_WAIT, now, ready)
        return ()

    def consume(self, fifo: Fifo, words: int, cycles_per_word: float = 1.0) -> Proc:
        """Read ``words`` in chunks, spending ``cycles_per_word`` on each (a pipelined loop)."""
        for w in self.gran.split(words):
            yield from self.take(fifo, w, w * cycles_per_word, cycles_per_word)

    def produce(
        self, words: int, cycles_per_word: float = 1.0, fifos: list[Fifo] | None = None
    ) -> Proc:
        """Compute then write ``words`` in chunks, ``cycles_per_word`` each."""
        for w in self.gran.split(words):
            self.busy(w * cycles_per_word)
            yield from self.emit(w, fifos, w * cycles_per_word)

    def open(self, extent_bytes: float, write: bool = False) -> Stream:
        p = self.p
        return self.mem.open(p.ports, p.port_bits, p.slr, extent_bytes, write, self.launch)

    def estimate(self, fn: Callable[..., Any], work: Work) -> Any:
        """``fn(name, p, work, params)``, the kind's cost estimate for ``work``, computed
        once per run: every layer launch of a step asks for the same one."""
        key = (fn, work)
        est = self._estimates.get(key)
        if est is None:
            est = self._estimates[key] = _estimate(fn, self.name, self.p, work, self.params)
        return est

    def stream_in(self) -> Fifo:
        """The single streaming input (not a buffer hand-off)."""
        for src, fifo in self.ins.items():
            if src not in self.handoff_ins:
                return fifo
        raise RuntimeError(f"kernel {self.name} has no stream input")

    def handoffs(self) -> list[Fifo]:
        """Inputs that pass a whole on-chip buffer (K, V or Q) once it is complete."""
        return [f for src, f in self.ins.items() if src in self.handoff_ins]

    def serve(self, crew: Crew) -> Proc:
        """The kernel's process: one launch each time ``crew`` wakes it."""
        env = self.env
        while True:
            if self.delay > 0:  # its region kernel is enqueued later (launch_scope region)
                yield env.timeout(self.delay)
                self.launch = env.now
            yield from self.body(self)
            yield from self.sync()
            self.charge(BUSY, self.busy_cycles)
            self.done = True
            crew.finished()
            yield simpy.Event(env)  # parked: the crew resumes it directly (Crew.launch)


class Crew:
    """The kernels of one launch graph, kept alive as processes across launches.

    A launch wakes them in graph order at one instant and returns an event that fires once
    every one has finished. Event for event this is what starting a process per kernel and
    waiting for all of them does (same instants, same order), with one wake-up event in
    place of a start event per kernel and one completion in place of an end event per
    kernel and their join; the engine goldens check the results are identical.
    """

    def __init__(self, env: simpy.Environment, kernels: list[Kernel]) -> None:
        self.env = env
        self.kernels = kernels
        self.procs: list[simpy.Process] = []
        self.remaining = 0
        self.all_done: simpy.Event | None = None

    def launch(self, step: Work, delays: dict[str, float]) -> simpy.Event:
        """Start one launch of every kernel (``delays``: start offsets by kernel name)."""
        env = self.env
        for k in self.kernels:
            k.reset(step, delays.get(k.name, 0.0))
        self.remaining = len(self.kernels)
        self.all_done = done = simpy.Event(env)
        if not self.procs:
            self.procs = [env.process(k.serve(self)) for k in self.kernels]
            return done
        wake = simpy.Event(env)
        wake._ok = True
        wake._value = None
        # resume each parked process in graph order, as their start events would
        wake.callbacks = [p._resume for p in self.procs]
        env.schedule(wake, URGENT)
        # while the wake-up runs, the instant still has an event pending (as the other
        # kernels' start events would be), so no kernel moves the clock past it (Kernel.sync)
        hold = simpy.Event(env)
        hold._ok = True
        hold._value = None
        env.schedule(hold, URGENT)
        return done

    def finished(self) -> None:
        """A kernel has finished this launch; the last one completes it (two steps later,
        as a process end and the join waiting for it would)."""
        self.remaining -= 1
        if not self.remaining:
            ended = simpy.Event(self.env)
            ended.callbacks.append(self._complete)
            ended.succeed()

    def _complete(self, _: simpy.Event) -> None:
        assert self.all_done is not None
        self.all_done.succeed()
