"""Kernel processes: what each kernel kind reads, computes and writes, in HLS order.

One :class:`Kernel` runs one layer launch as a SimPy process. It moves words (one feature
of a pack) through its FIFOs in chunks whose size the :class:`Granularity` fixes (whole
fractions of a row in coarse mode, single words in fine mode) and spends cycles the cost
models give. Every waiting moment is charged to one state: busy, starved (empty input),
blocked (full output) or hbm_wait (memory), so the four add up to the kernel's active time.

Orders follow the chen2024 HLS kernels (chen2024.md 3): a systolic linear streams its pack's
input row during the first output block and replays it for the others; a GEMV buffers the
input vector before it streams weights; softmax reads a whole row before normalising;
LayerNorm accumulates a row before writing it; attention waits for the K/V buffers (the
synchronisation point) and computes every key of a row, the mask discarding future ones.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import lru_cache
from math import ceil
from typing import Any

import simpy

from spatialsim.costmodel import isolated as iso
from spatialsim.costmodel import kernels as cm
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.design.kernels import HANDOFF_KINDS
from spatialsim.engine.fifo import Fifo
from spatialsim.engine.memory import Stream
from spatialsim.engine.memsys import MemorySystem
from spatialsim.metrics.monitors import BLOCKED, BUSY, HBM_WAIT, STARVED
from spatialsim.metrics.timeline import Timeline

Proc = Generator[simpy.Event, Any, None]
FP32_BYTES = 4


@lru_cache(maxsize=4096)
def _split(total: int, parts: int) -> tuple[int, ...]:
    """``total`` split into ``parts`` near-equal positive chunks (larger ones first)."""
    parts = max(1, min(parts, total))
    q, r = divmod(total, parts)
    return tuple(q + 1 if i < r else q for i in range(parts))


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
            return _split(total, total)
        return _split(total, self.chunks_per_row)


class Kernel:
    """One kernel of the design graph for one layer launch."""

    def __init__(self, env: simpy.Environment, name: str, attrs: dict[str, Any], step: Work,
                 ins: dict[str, Fifo], outs: list[Fifo], acc: list[float],
                 mem: MemorySystem, params: CostParams, gran: Granularity,
                 in_kinds: dict[str, str], waits: dict[tuple[str, str, str], float],
                 timeline: Timeline | None = None) -> None:
        self.env = env
        self.name = name
        self.attrs = attrs
        self.kind: str = attrs["kind"]
        self.step = step
        self.ins = ins            # keyed by the producing kernel's name
        self.in_kinds = in_kinds  # producing kernel's kind, by producer name
        self.outs = outs
        self.acc = acc
        self.waits = waits        # (kernel, state, FIFO or ports) -> cycles, for reports
        self.timeline = timeline  # spans for timelines, when recording
        self.mem = mem
        self.params = params
        self.gran = gran
        self.launch = env.now
        self.waiting: tuple[Fifo, str] | None = None
        self.done = False

    # -- primitives (generators: ``yield from``) ------------------------------------------
    def busy(self, cycles: float) -> Proc:
        if cycles > 0:
            yield self.env.timeout(cycles)
            self.acc[BUSY] += cycles
            if self.timeline is not None:
                self.timeline.span(self.name, "busy", self.env.now - cycles, self.env.now)

    def get(self, fifo: Fifo, words: int) -> Proc:
        """Take ``words``; charge the wait (and any link latency) as starved."""
        yield from self.take(fifo, words, 0.0, 0.0)

    def take(self, fifo: Fifo, words: int, cycles: float, last_word: float) -> Proc:
        """Take ``words`` and process them for ``cycles`` (``last_word`` for the last one).

        Cut-through: when the kernel had to wait for words that trickled out of the
        producer over ``span`` cycles, it would have processed them as they arrived, so
        the overlap of its work with that arrival is charged as busy, not starved; only
        what is left after the last word arrives still takes time.
        """
        env = self.env
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
            yield env.timeout(delay)
        starved = arrived - t0 - (cycles - remaining)
        if starved > 0:
            self.acc[STARVED] += starved
            key = (self.name, "starved", fifo.name)
            self.waits[key] = self.waits.get(key, 0.0) + starved
        self.acc[BUSY] += cycles
        if self.timeline is not None:
            self.timeline.span(self.name, "starved", t0, t0 + max(starved, 0.0))
            self.timeline.span(self.name, "busy", t0 + max(starved, 0.0), env.now)

    def put(self, fifo: Fifo, words: int, span: float = 0.0) -> Proc:
        ev = fifo.put(words, span)
        if ev is not None:
            t0 = self.env.now
            self.waiting = (fifo, "put")
            yield ev
            self.waiting = None
            self.acc[BLOCKED] += self.env.now - t0
            key = (self.name, "blocked", fifo.name)
            self.waits[key] = self.waits.get(key, 0.0) + self.env.now - t0
            if self.timeline is not None:
                self.timeline.span(self.name, "blocked", t0, self.env.now)

    def emit(self, words: int, fifos: list[Fifo] | None = None, span: float = 0.0) -> Proc:
        """Write ``words`` to each output FIFO (one word per transfer in fine mode);
        ``span``: cycles spent producing them (0 for a finished block)."""
        targets = self.outs if fifos is None else fifos
        if self.gran.chunks_per_row is None:
            for fifo in targets:
                for _ in range(words):
                    yield from self.put(fifo, 1, span / words if words else 0.0)
        else:
            for fifo in targets:
                yield from self.put(fifo, words, span)

    def wait_memory(self, ready: float) -> Proc:
        now = self.env.now
        if ready > now:
            yield self.env.timeout(ready - now)
            self.acc[HBM_WAIT] += ready - now
            key = (self.name, "hbm_wait", ",".join(self.attrs.get("ports", ())))
            self.waits[key] = self.waits.get(key, 0.0) + ready - now
            if self.timeline is not None:
                self.timeline.span(self.name, "hbm_wait", now, ready)

    def consume(self, fifo: Fifo, words: int, cycles_per_word: float = 1.0) -> Proc:
        """Read ``words`` in chunks, spending ``cycles_per_word`` on each (a pipelined loop)."""
        for w in self.gran.split(words):
            yield from self.take(fifo, w, w * cycles_per_word, cycles_per_word)

    def produce(self, words: int, cycles_per_word: float = 1.0,
                fifos: list[Fifo] | None = None) -> Proc:
        """Compute then write ``words`` in chunks, ``cycles_per_word`` each."""
        for w in self.gran.split(words):
            yield from self.busy(w * cycles_per_word)
            yield from self.emit(w, fifos, w * cycles_per_word)

    def open(self, extent_bytes: float, write: bool = False) -> Stream:
        a = self.attrs
        return self.mem.open(a["ports"], a["port_bits"], a["slr"], extent_bytes, write,
                             self.launch)

    def stream_in(self) -> Fifo:
        """The single streaming input (not a buffer hand-off)."""
        for src, fifo in self.ins.items():
            if self.in_kinds[src] not in HANDOFF_KINDS:
                return fifo
        raise RuntimeError(f"kernel {self.name} has no stream input")

    def handoffs(self) -> list[Fifo]:
        """Inputs that pass a whole on-chip buffer (K, V or Q) once it is complete."""
        return [f for src, f in self.ins.items() if self.in_kinds[src] in HANDOFF_KINDS]

    def loop_tail(self, loop: iso.Loop) -> Proc:
        """What a pipelined loop costs beyond II per trip: depth - II, once per entry."""
        yield from self.busy(loop.depth - loop.ii)

    def run(self) -> Proc:
        yield from BODIES[self.kind](self)
        self.done = True


# ---- kernel bodies ----------------------------------------------------------------------
# Each body spends the cycles of its kernel's loops (costmodel/isolated.py): II per word as
# the words move, the loop's depth - II once per entry, and the fitted per-row remainder.

def _one(k: Kernel, per_unit: iso.Estimate, name: str) -> iso.Loop:
    """Loop ``name`` of an estimate made for a single unit of work."""
    for lp in per_unit.loops:
        if lp.name == name:
            return lp
    raise KeyError(name)


def _drain_cycles(k: Kernel) -> float:
    """Output-register loops outside the MAC loop (DRAIN_REST, FLUSH) of this launch."""
    est = iso.estimate(k.name, k.attrs, k.step, k.params)
    return sum(lp.cycles for lp in est.loops if lp.name in ("DRAIN_REST", "FLUSH"))


def _loader(k: Kernel) -> Proc:
    """Read a pack's fp32 row from memory (and its per-token scales) in one pass."""
    f = k.attrs["features"]
    sizes = k.step.pack_sizes()
    stream = k.open(sum(sizes) * f * FP32_BYTES)
    for ntok in sizes:
        bytes_per_word = ntok * FP32_BYTES
        for w in k.gran.split(f):
            ready = stream.request(k.env.now, w * bytes_per_word)
            yield from k.busy(w)
            yield from k.wait_memory(ready)
            yield from k.emit(w, span=w)
        yield from k.busy(iso.SIMPLE_DEPTH - 1)


def _writer(k: Kernel) -> Proc:
    """Write fp32 activations to memory (posted writes; done when the last one lands)."""
    f = k.attrs["features"]
    sizes = k.step.pack_sizes()
    stream = k.open(sum(sizes) * f * FP32_BYTES, write=True)
    inp = k.stream_in()
    last = k.env.now
    for ntok in sizes:
        for w in k.gran.split(f):
            yield from k.take(inp, w, w, 1.0)
            last = stream.request(k.env.now, w * ntok * FP32_BYTES)
        yield from k.busy(iso.SIMPLE_DEPTH - 1)
    yield from k.wait_memory(last)


def _linear(k: Kernel) -> Proc:
    """Output-stationary systolic array: block 0 streams the input row, later blocks replay
    it; every block streams its weights from memory (re-read once per pack)."""
    a = k.attrs
    kdim, n = a["in_features"], a["out_features"]
    per_block = cm.linear_outputs_per_block(a)
    tail = iso.mac_depth(a) - 1
    block = kdim + tail
    block_bytes = cm.linear_block_weight_bytes(a)
    groups = k.gran.split(cm.linear_blocks(a))
    weights = k.open(kdim * n * a["weight_bits"] / 8)
    inp = k.stream_in()
    prologue = iso.array_prologue(kdim, k.params)
    for _ in k.step.pack_sizes():
        left = n
        yield from k.busy(prologue)
        for gi, g in enumerate(groups):
            ready = weights.request(k.env.now, g * block_bytes)
            if gi == 0:
                yield from k.consume(inp, kdim)
                yield from k.busy(tail + (g - 1) * block)
            else:
                yield from k.busy(g * block)
            yield from k.wait_memory(ready)
            out = min(left, g * per_block)
            left -= out
            # a group of g blocks finished one block at a time: outputs trickled over it
            yield from k.emit(out, span=(g - 1) * block)
    yield from k.busy(_drain_cycles(k))


def _gemv(k: Kernel) -> Proc:
    """GEMV engines: buffer the input vector (one element per cycle), then stream weights,
    one 512-bit beat per engine per cycle, each engine from its own channel."""
    a = k.attrs
    kdim, n = a["in_features"], a["out_features"]
    per_pass = cm.gemv_outputs_per_pass(a)
    pass_cycles = cm.gemv_pass_cycles(a, k.params)
    pass_bytes = cm.gemv_pass_bytes_per_engine(a) * a["engines"]
    groups = k.gran.split(cm.gemv_passes(a))
    weights = k.open(kdim * n * a["weight_bits"] / 8)
    inp = k.stream_in()
    for _ in range(k.step.tokens):
        yield from k.consume(inp, kdim)
        yield from k.busy(iso.SIMPLE_DEPTH - 1)
        left = n
        for g in groups:
            ready = weights.request(k.env.now, g * pass_bytes)
            yield from k.busy(g * pass_cycles)
            yield from k.wait_memory(ready)
            out = min(left, g * per_pass)
            left -= out
            yield from k.emit(out, span=(g - 1) * pass_cycles)
    yield from k.busy(_drain_cycles(k))


def _attn_matmul(k: Kernel) -> Proc:
    """Systolic Q.K^T or softmax.V per (pack, head), after the K/V (and Q) buffers are
    complete. Softmax.V's first block reads the head's probability row from its stream;
    Q.K^T reads Q from its buffer. Outputs are scores or context, block by block."""
    a = k.attrs
    keys = k.step.keys
    qk = a["op"] == "qk"
    head_out = keys if qk else a["head_dim"]
    kdim = a["head_dim"] if qk else keys
    blocks = cm.attn_block_count(a, keys)
    block = kdim + iso.mac_depth(a) - 1
    prologue = iso.array_prologue(kdim, k.params)
    for buf in k.handoffs():
        yield from k.get(buf, 1)  # the layer's K (or V, or Q) is complete
    inp = None if qk else k.stream_in()
    fine = k.gran.chunks_per_row is None
    block_out = _split(head_out, blocks)
    for _ in k.step.pack_sizes():
        for hg in k.gran.split(a["heads"]):
            yield from k.busy(hg * prologue)
            if inp is not None:  # the first block's reduction loop reads the row
                yield from k.consume(inp, hg * kdim)
                first = block - kdim
            else:
                first = block
            if fine:  # block by block, each leaving through the output registers
                yield from k.busy(first)
                yield from k.emit(block_out[0])
                for out in block_out[1:]:
                    yield from k.busy(block)
                    yield from k.emit(out)
            else:
                rest = hg * blocks * block - (hg * kdim if inp is not None else 0)
                yield from k.busy(rest)
                yield from k.emit(hg * head_out, span=hg * blocks * block - block)
    yield from k.busy(_drain_cycles(k))


def _attn_gemv(k: Kernel) -> Proc:
    """Decode attention, ``heads_parallel`` heads at a time against the cached rows."""
    a = k.attrs
    keys = k.step.keys
    qk = a["op"] == "qk"
    unit = iso.estimate(k.name, a, Work(k.step.phase, 1, 1, keys, k.step.cached), k.params)
    load, row = _one(k, unit, "LOAD"), _one(k, unit, "ROW")
    load_cycles, row_cycles = load.cycles / load.entries, row.cycles / row.entries
    for buf in k.handoffs():
        yield from k.get(buf, 1)
    inp = None if qk else k.stream_in()
    for _ in range(k.step.tokens):
        for heads, gg in _head_groups(k):
            if inp is None:  # Q from its buffer
                yield from k.busy(gg * load_cycles)
            else:            # the probabilities of the group's heads, side by side
                words = heads * keys
                yield from k.consume(inp, words, gg * (load_cycles - 1) / words)
                yield from k.busy(gg)
            if qk:  # scores leave as the cached K rows stream past
                yield from k.produce(heads * keys, gg * row_cycles / (heads * keys))
            else:   # each group's context is complete after its last V row
                yield from k.busy(gg * row_cycles)
                yield from k.emit(heads * a["head_dim"], span=(gg - 1) * row_cycles)


def _kv_writer(k: Kernel) -> Proc:
    """Fill the on-chip K or V buffer for the layer, keep the off-chip cache up to date,
    then hand the buffer to attention. In decode the layer's cached rows are loaded first."""
    a = k.attrs
    f, ii = a["features"], a["ii"]
    elem = a["act_bits"] / 8
    load_ready = k.env.now
    if k.step.cached:
        load_ready = k.open(k.step.cached * f * elem).request(k.env.now,
                                                              k.step.cached * f * elem)
    writes = k.open(k.step.tokens * f * elem, write=True)
    inp = k.stream_in()
    last = k.env.now
    fitted = iso.row_store_fitted(f, k.params)
    for ntok in k.step.pack_sizes():
        for w in k.gran.split(f):
            yield from k.take(inp, w, w * ii, ii)
            last = writes.request(k.env.now, w * ntok * elem)
        yield from k.busy(iso.SIMPLE_DEPTH - ii + fitted)
    yield from k.wait_memory(load_ready)
    yield from k.emit(1)
    yield from k.wait_memory(last)


def _buffer(k: Kernel) -> Proc:
    """Store every pack (Q waits for the K/V synchronisation point), then hand the buffer
    to attention."""
    f = k.attrs["features"]
    inp = k.stream_in()
    fitted = iso.row_store_fitted(f, k.params)
    for _ in k.step.pack_sizes():
        yield from k.consume(inp, f)
        yield from k.busy(iso.SIMPLE_DEPTH - 1 + fitted)
    yield from k.emit(1)


def _rowwise(k: Kernel, words_in: int, words_out: int) -> Proc:
    """An II = 1 element loop: read a chunk, process it, write it."""
    inp = k.stream_in()
    outs = k.gran.split(words_out)
    ins = _split(words_in, len(outs)) if words_in != words_out else outs
    for wi, wo in zip(ins, outs, strict=True):
        yield from k.take(inp, wi, wo, 1.0)
        yield from k.emit(wo, span=wo)


def _head_groups(k: Kernel) -> tuple[tuple[int, int], ...]:
    """(heads, groups) per chunk: ``heads_parallel`` heads share each pass."""
    hp = k.attrs["heads_parallel"]
    groups = k.gran.split(ceil(k.attrs["heads"] / hp))
    out, left = [], k.attrs["heads"]
    for gg in groups:
        heads = min(left, gg * hp)
        left -= heads
        out.append((heads, gg))
    return tuple(out)


def _mask(k: Kernel) -> Proc:
    keys = k.step.keys
    inp = k.stream_in()
    for _ in k.step.pack_sizes():
        for heads, gg in _head_groups(k):
            yield from k.take(inp, heads * keys, gg * keys, 1.0)
            yield from k.emit(heads * keys, span=gg * keys)


def _softmax(k: Kernel) -> Proc:
    """Per row: read with a running max (II 1), then exponentiate and sum at the reduction
    II, writing exp(x - max); the row's 1/sum goes with it and softmax.V applies it when it
    re-quantises (deferred normalisation). ``heads_parallel`` rows at a time."""
    keys = k.step.keys
    one = iso.estimate(k.name, {**k.attrs, "heads": 1, "heads_parallel": 1},
                       Work(k.step.phase, 1, 1, keys, 0), k.params)
    mx, ex = _one(k, one, "MAX"), _one(k, one, "EXP_SUM")
    inp = k.stream_in()
    for _ in k.step.pack_sizes():
        for heads, gg in _head_groups(k):
            words = heads * keys
            yield from k.consume(inp, words, gg * mx.ii * keys / words)
            yield from k.busy(gg * (mx.depth - mx.ii))
            yield from k.produce(words, gg * ex.ii * keys / words)
            yield from k.busy(gg * (ex.depth - ex.ii))


def _layernorm(k: Kernel) -> Proc:
    f = k.attrs["features"]
    one = iso.estimate(k.name, k.attrs, Work(k.step.phase, 1, 1, 1, 0), k.params)
    sm, nm = _one(k, one, "SUM"), _one(k, one, "NORM")
    inp = k.stream_in()
    for _ in k.step.pack_sizes():
        yield from k.consume(inp, f, sm.ii)
        yield from k.busy(nm.depth - nm.ii + sm.depth - sm.ii)
        yield from k.produce(f, nm.ii)


def _activation(k: Kernel) -> Proc:
    """GeLU, or SwiGLU reading the gate and up words of each output (II 2)."""
    f = k.attrs["features"]
    fan_in = 2 if k.attrs["fn"] == "silu_mul" else 1
    inp = k.stream_in()
    for _ in k.step.pack_sizes():
        for wo in k.gran.split(f):
            yield from k.take(inp, fan_in * wo, fan_in * wo, float(fan_in))
            yield from k.emit(wo, span=fan_in * wo)
        yield from k.busy(k.params.activation_depth_cycles - fan_in)


def _residual(k: Kernel) -> Proc:
    """Add two streams element by element (the inputs in graph order)."""
    f = k.attrs["features"]
    a, b = list(k.ins.values())
    fitted = iso.row_store_fitted(f, k.params)
    for _ in k.step.pack_sizes():
        for w in k.gran.split(f):
            yield from k.get(a, w)
            yield from k.take(b, w, w, 1.0)
            yield from k.emit(w, span=w)
        yield from k.busy(iso.SIMPLE_DEPTH - 1 + fitted)


def _splitter(k: Kernel) -> Proc:
    """Copy the row to every output (quantised copy for the linear, fp32 bypass), chunk by
    chunk and output by output: the bypass must hold what the FFN has not consumed."""
    f = k.attrs["features"]
    for _ in k.step.pack_sizes():
        yield from _rowwise(k, f, f)
        yield from k.busy(iso.SIMPLE_DEPTH - 1)


BODIES: dict[str, Callable[[Kernel], Proc]] = {
    "loader": _loader, "writer": _writer, "linear": _linear, "gemv": _gemv,
    "attn_matmul": _attn_matmul, "attn_gemv": _attn_gemv, "kv_writer": _kv_writer,
    "buffer": _buffer, "mask": _mask, "softmax": _softmax, "layernorm": _layernorm,
    "activation": _activation, "residual": _residual, "splitter": _splitter,
}
