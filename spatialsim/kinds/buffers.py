"""On-chip buffers handed over whole: the K and V writers (with the off-chip cache) and the
Q buffer. Attention waits until they are complete (the synchronisation point).

Where a writer keeps every layer's K/V cache between decode steps is a structural choice
(``cache``): in HBM (``hbm``, the chen2024 templates' assumption: a decode step loads the
layer's cached rows into the on-chip buffer and writes the new row back), or on chip
(``chip``: the buffer holds ``layers`` layers' rows, so nothing crosses HBM, at
``layers`` times the URAM)."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from spatialsim.costmodel.loops import (
    SIMPLE_DEPTH,
    Estimate,
    Loop,
    make_estimate,
    row_store_fitted,
)
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.kinds.base import (
    Coeffs,
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    axi_group,
    bits,
    count,
    features,
    lanes,
    param,
    port_bits,
    ports,
    vector,
    words,
)
from spatialsim.kinds.registry import KindSpec, register


@dataclass(frozen=True)
class KvWriterParams(KernelParams):
    KIND = "kv_writer"

    target: str = param("which cache it fills", choices=("k", "v"))
    ii: int = count("initiation interval of the write loop", 1, 64)
    features: int = features()
    max_seq_len: int = count("tokens the cache holds")
    act_bits: int = bits("cached element bit width")
    ports: tuple[str, ...] = ports("memory port(s) holding every layer's cache off chip")
    port_bits: int = port_bits()
    vector: int = vector()
    axi_group: str = axi_group()
    cache: str = param(
        "where every layer's cache lives between decode steps: 'hbm' (loaded into the "
        "buffer each step, new rows written back) or 'chip' (the buffer holds them all)",
        choices=("hbm", "chip"),
        default="hbm",
    )
    layers: int = param(
        "layers whose rows the on-chip buffer holds (cache = 'chip')",
        low=1,
        high=1 << 12,
        default=1,
    )

    def stream_words_in(self) -> int | None:
        return words(self.features, self.vector)

    def stream_words_out(self) -> int | None:
        return None  # a buffer handed over whole

    @property
    def off_chip(self) -> bool:
        return self.cache == "hbm"


@dataclass(frozen=True)
class BufferParams(KernelParams):
    KIND = "buffer"

    features: int = features()
    lanes: int = lanes()
    vector: int = vector()

    def stream_words_in(self) -> int | None:
        return words(self.features, self.vector)

    def stream_words_out(self) -> int | None:
        return None  # a buffer handed over whole


def kv_work(p: KvWriterParams, w: Work) -> KernelWork:
    return KernelWork(elements=(w.tokens + w.cached) * p.features)


def kv_estimate(name: str, p: KvWriterParams, w: Work, cost: CostParams) -> Estimate:
    f = p.features
    beats = ceil(w.cached * f * p.act_bits / p.port_bits)
    loops = [
        Loop("CACHE_LOAD", beats, 1, SIMPLE_DEPTH, 1 if w.cached and p.off_chip else 0),
        Loop("WRITE", words(f, p.vector), p.ii, SIMPLE_DEPTH, w.packs),
    ]
    fitted = row_store_fitted(words(f, p.vector), cost)
    return make_estimate(name, p.KIND, loops, w.packs * fitted, cost)


def kv_body(k: KernelProcess) -> Proc:
    """Fill the on-chip K or V buffer for the layer, keep the off-chip cache up to date,
    then hand the buffer to attention. In decode the layer's cached rows are loaded first."""
    p: KvWriterParams = k.p
    f, ii = p.features, p.ii
    elem = p.act_bits / 8
    fw = words(f, p.vector)
    load_ready = k.now
    if k.step.cached and p.off_chip:
        cached = k.step.cached * f * elem
        load_ready = yield from k.request(k.open(cached), cached)
    writes = k.open(k.step.tokens * f * elem, write=True) if p.off_chip else None
    inp = k.stream_in()
    last = k.now
    fitted = row_store_fitted(fw, k.params)
    for ntok in k.step.pack_sizes():
        for w in k.gran.split(fw):
            yield from k.take(inp, w, w * ii, ii)
            if writes is not None:
                last = yield from k.request(writes, w * p.vector * ntok * elem)
        k.busy(SIMPLE_DEPTH - ii + fitted)
    k.wait_memory(load_ready)
    yield from k.emit(1)
    k.wait_memory(last)


def kv_hls(p: KvWriterParams) -> dict[str, Any]:
    """kv.h: the write loop's II (the transposed V write runs at II 4 or 8)."""
    return {"II": p.ii, "MAXL": p.max_seq_len}


def buffer_work(p: BufferParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * p.features)


def buffer_estimate(name: str, p: BufferParams, w: Work, cost: CostParams) -> Estimate:
    fw = words(p.features, p.vector)
    loops = [Loop("STORE", fw, 1, SIMPLE_DEPTH, w.packs)]
    return make_estimate(name, p.KIND, loops, w.packs * row_store_fitted(fw, cost), cost)


def buffer_body(k: KernelProcess) -> Proc:
    """Store every pack (Q waits for the K/V synchronisation point), then hand the buffer
    to attention."""
    p: BufferParams = k.p
    inp = k.stream_in()
    fw = words(p.features, p.vector)
    fitted = row_store_fitted(fw, k.params)
    for _ in k.step.pack_sizes():
        yield from k.consume(inp, fw)
        k.busy(SIMPLE_DEPTH - 1 + fitted)
    yield from k.emit(1)


def buffer_hls(p: BufferParams) -> dict[str, Any]:
    return {"F": p.features}


# W4A8 region reports: K_writer / V_writer, Q_buffer
KV_COEFFS = Coeffs(fixed={"lut": 482, "ff": 156, "bram36": 2})
BUFFER_COEFFS = Coeffs(fixed={"lut": 327, "ff": 107, "bram36": 2})
URAM_WIDTH_BITS = 72  # UltraRAM is 4K x 72 (AMD UG573)
URAM_DEPTH = 4096
# The KV buffers in region_2 use twice the minimal URAM count (1R1W mapping): K is 16384 x 64
# bits (4 URAM minimum) and takes 8.
KV_URAM_FACTOR = 2


def kv_resources(p: KvWriterParams) -> dict[str, float]:
    """The writer's logic and its on-chip buffer: max_seq_len x features elements (of
    ``layers`` layers when the cache is on chip), stored 8 tokens (64 bits) per word."""
    out = KV_COEFFS.scaled(0, 0)
    layers = 1 if p.off_chip else p.layers
    depth = ceil(layers * p.max_seq_len * p.features * p.act_bits / 64)
    out["uram"] += KV_URAM_FACTOR * ceil(64 / URAM_WIDTH_BITS) * ceil(depth / URAM_DEPTH)
    return out


def buffer_resources(p: BufferParams) -> dict[str, float]:
    return BUFFER_COEFFS.scaled(0, p.lanes)


register(
    KindSpec(
        "kv_writer",
        "K or V writer: on-chip buffer plus off-chip cache",
        KvWriterParams,
        kv_work,
        kv_estimate,
        kv_body,
        kv_hls,
        kv_resources,
        handoff=True,
    )
)
register(
    KindSpec(
        "buffer",
        "Q buffer handed to attention",
        BufferParams,
        buffer_work,
        buffer_estimate,
        buffer_body,
        buffer_hls,
        buffer_resources,
        handoff=True,
    )
)
