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

from spatialsim.costmodel import kernels as cm
from spatialsim.costmodel.params import CostParams
from spatialsim.engine.fifo import Fifo
from spatialsim.engine.memory import Stream
from spatialsim.engine.memsys import MemorySystem
from spatialsim.metrics.monitors import BLOCKED, BUSY, HBM_WAIT, STARVED

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


@dataclass(frozen=True)
class Step:
    """The work of one layer launch.

    ``tokens`` new tokens travel in packs of ``pack_tokens``; attention reduces over
    ``keys`` keys per row; ``cached`` tokens of K/V are already in the off-chip cache.
    """

    phase: str
    tokens: int
    pack_tokens: int
    keys: int
    cached: int

    def pack_sizes(self) -> tuple[int, ...]:
        full, last = divmod(self.tokens, self.pack_tokens)
        return (self.pack_tokens,) * full + ((last,) if last else ())


class Kernel:
    """One kernel of the design graph for one layer launch."""

    def __init__(self, env: simpy.Environment, name: str, attrs: dict[str, Any], step: Step,
                 ins: dict[str, Fifo], outs: list[Fifo], acc: list[float],
                 mem: MemorySystem, params: CostParams, gran: Granularity,
                 in_kinds: dict[str, str], waits: dict[tuple[str, str, str], float]) -> None:
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
        """The single streaming input (not a K/V cache hand-off)."""
        for src, fifo in self.ins.items():
            if self.in_kinds[src] != "kv_writer":
                return fifo
        raise RuntimeError(f"kernel {self.name} has no stream input")

    def cache_in(self) -> Fifo | None:
        for src, fifo in self.ins.items():
            if self.in_kinds[src] == "kv_writer":
                return fifo
        return None

    def run(self) -> Proc:
        yield from BODIES[self.kind](self)
        self.done = True


# ---- kernel bodies ----------------------------------------------------------------------

def _loader(k: Kernel) -> Proc:
    """Read fp32 activations from memory; with ``quantize`` the row max is needed first."""
    f = k.attrs["features"]
    sizes = k.step.pack_sizes()
    stream = k.open(sum(sizes) * f * FP32_BYTES)
    for ntok in sizes:
        bytes_per_word = ntok * FP32_BYTES
        if k.attrs["quantize"]:
            for w in k.gran.split(f):
                ready = stream.request(k.env.now, w * bytes_per_word)
                yield from k.busy(w)
                yield from k.wait_memory(ready)
            yield from k.produce(f)
        else:
            for w in k.gran.split(f):
                ready = stream.request(k.env.now, w * bytes_per_word)
                yield from k.busy(w)
                yield from k.wait_memory(ready)
                yield from k.emit(w, span=w)


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
    yield from k.wait_memory(last)


def _linear(k: Kernel) -> Proc:
    """Output-stationary systolic array: block 0 streams the input row, later blocks replay
    it; every block streams its weights from memory (re-read once per pack)."""
    a = k.attrs
    kdim, n = a["in_features"], a["out_features"]
    per_block = cm.linear_outputs_per_block(a)
    block = cm.linear_block_cycles(a)
    block_bytes = cm.linear_block_weight_bytes(a)
    groups = k.gran.split(cm.linear_blocks(a))
    sizes = k.step.pack_sizes()
    weights = k.open(kdim * n * a["weight_bits"] / 8)
    inp = k.stream_in()
    for _ in sizes:
        left = n
        for gi, g in enumerate(groups):
            ready = weights.request(k.env.now, g * block_bytes)
            if gi == 0:
                yield from k.consume(inp, kdim)
                yield from k.busy(block - kdim + (g - 1) * block)
            else:
                yield from k.busy(g * block)
            yield from k.wait_memory(ready)
            out = min(left, g * per_block)
            left -= out
            # a group of g blocks finished one block at a time: outputs trickled over it
            yield from k.emit(out, span=(g - 1) * block)


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
        left = n
        for g in groups:
            ready = weights.request(k.env.now, g * pass_bytes)
            yield from k.busy(g * pass_cycles)
            yield from k.wait_memory(ready)
            out = min(left, g * per_pass)
            left -= out
            yield from k.emit(out, span=(g - 1) * pass_cycles)


def _attn_matmul(k: Kernel) -> Proc:
    """Systolic Q.K^T or softmax.V per (pack, head): the first block loads the head's Q row
    (head_dim words) or probability row (keys words); outputs are scores or context."""
    a = k.attrs
    keys = k.step.keys
    qk = a["op"] == "qk"
    head_in = a["head_dim"] if qk else keys
    head_out = keys if qk else a["head_dim"]
    head = cm.attn_head_cycles(a, keys)
    cache = k.cache_in()
    if cache is not None:
        yield from k.get(cache, 1)  # K (or V) of the whole layer is in the buffer
    inp = k.stream_in()
    fine = k.gran.chunks_per_row is None
    blocks = cm.attn_block_count(a, keys)
    block = cm.attn_block_cycles(a, keys)
    block_out = _split(head_out, blocks)
    for _ in k.step.pack_sizes():
        for hg in k.gran.split(a["heads"]):
            yield from k.consume(inp, hg * head_in)  # the first block's reduction loop
            if fine:  # block by block, each leaving through the output registers
                yield from k.busy(block - head_in)
                yield from k.emit(block_out[0])
                for out in block_out[1:]:
                    yield from k.busy(block)
                    yield from k.emit(out)
            else:
                yield from k.busy(hg * (head - head_in))
                yield from k.emit(hg * head_out, span=hg * head - block)


def _attn_gemv(k: Kernel) -> Proc:
    """Decode attention, ``heads_parallel`` heads at a time against the cached rows."""
    a = k.attrs
    keys = k.step.keys
    qk = a["op"] == "qk"
    group = cm.attn_gemv_group_cycles(a, keys, k.params)
    cache = k.cache_in()
    if cache is not None:
        yield from k.get(cache, 1)
    inp = k.stream_in()
    for _ in range(k.step.tokens):
        for heads, gg in _head_groups(k):
            head_in = a["head_dim"] if qk else keys
            # each group's Q (or probabilities) is buffered, its heads side by side
            yield from k.consume(inp, heads * head_in, gg * head_in / (heads * head_in))
            if qk:  # scores leave as the cached K rows stream past
                yield from k.produce(heads * keys, gg * group / (heads * keys))
            else:   # each group's context is complete after its last V row
                yield from k.busy(gg * group)
                yield from k.emit(heads * a["head_dim"], span=(gg - 1) * group)


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
    for ntok in k.step.pack_sizes():
        for w in k.gran.split(f):
            yield from k.take(inp, w, w * ii, ii)
            last = writes.request(k.env.now, w * ntok * elem)
        yield from k.busy(k.params.kv_row_overhead_cycles)
    yield from k.wait_memory(load_ready)
    yield from k.emit(1)
    yield from k.wait_memory(last)


def _buffer(k: Kernel) -> Proc:
    """Hold every pack (Q waits for the K/V synchronisation point), then stream them out."""
    f = k.attrs["features"]
    inp = k.stream_in()
    sizes = k.step.pack_sizes()
    for _ in sizes:
        yield from k.consume(inp, f)
    for _ in sizes:
        yield from k.produce(f)


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
    """Per row: read with running max, exp and sum at the reduction II, normalise and write;
    ``heads_parallel`` rows at a time."""
    keys = k.step.keys
    read, reduce, write = cm.softmax_row_passes(keys, k.attrs["reduction_ii"], k.params)
    inp = k.stream_in()
    for _ in k.step.pack_sizes():
        for heads, gg in _head_groups(k):
            yield from k.consume(inp, heads * keys, gg * read / (heads * keys))
            yield from k.busy(gg * reduce)
            yield from k.produce(heads * keys, gg * write / (heads * keys))


def _layernorm(k: Kernel) -> Proc:
    f = k.attrs["features"]
    read, write = cm.layernorm_row_passes(f, k.attrs["reduction_ii"], k.params)
    inp = k.stream_in()
    for _ in k.step.pack_sizes():
        yield from k.consume(inp, f, read / f)
        yield from k.produce(f, write / f)


def _activation(k: Kernel) -> Proc:
    f = k.attrs["features"]
    fan_in = 2 if k.attrs["fn"] == "silu_mul" else 1
    for _ in k.step.pack_sizes():
        yield from _rowwise(k, fan_in * f, f)


def _residual(k: Kernel) -> Proc:
    """Add two streams element by element (the inputs in graph order)."""
    f = k.attrs["features"]
    a, b = list(k.ins.values())
    for _ in k.step.pack_sizes():
        for w in k.gran.split(f):
            yield from k.get(a, w)
            yield from k.take(b, w, w, 1.0)
            yield from k.emit(w, span=w)


def _splitter(k: Kernel) -> Proc:
    """Copy the row to every output (quantised copy for the linear, fp32 bypass), chunk by
    chunk and output by output: the bypass must hold what the FFN has not consumed."""
    f = k.attrs["features"]
    for _ in k.step.pack_sizes():
        yield from _rowwise(k, f, f)


BODIES: dict[str, Callable[[Kernel], Proc]] = {
    "loader": _loader, "writer": _writer, "linear": _linear, "gemv": _gemv,
    "attn_matmul": _attn_matmul, "attn_gemv": _attn_gemv, "kv_writer": _kv_writer,
    "buffer": _buffer, "mask": _mask, "softmax": _softmax, "layernorm": _layernorm,
    "activation": _activation, "residual": _residual, "splitter": _splitter,
}
