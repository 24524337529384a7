"""m_axi loaders and writers: fp32 activations between HBM and the layer's streams.

A loader reads a pack's fp32 row (and its per-token scales) in one pass; a writer posts its
writes and is done when the last one lands. Each is one II 1 loop per pack behind the
m_axi first-access latency (``axi_call_cycles``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spatialsim.constants import FP32_BYTES
from spatialsim.costmodel.loops import SIMPLE_DEPTH, Estimate, Loop, make_estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.kinds.base import (
    Coeffs,
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    axi_group,
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
class LoaderParams(KernelParams):
    KIND = "loader"

    ports: tuple[str, ...] = ports()
    port_bits: int = port_bits()
    lanes: int = lanes()
    features: int = features()
    quantize: bool = param("convert fp32 to int8 with a per-token scale")
    vector: int = vector()
    axi_group: str = axi_group()

    def stream_words_in(self) -> int | None:
        return 0  # loads from memory

    def stream_words_out(self) -> int | None:
        return words(self.features, self.vector)


@dataclass(frozen=True)
class WriterParams(KernelParams):
    KIND = "writer"

    ports: tuple[str, ...] = ports()
    port_bits: int = port_bits()
    lanes: int = lanes()
    features: int = features()
    vector: int = vector()
    axi_group: str = axi_group()

    def stream_words_in(self) -> int | None:
        return words(self.features, self.vector)

    def stream_words_out(self) -> int | None:
        return 0  # stores to memory


def work(p: LoaderParams | WriterParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * p.features)


def loader_estimate(name: str, p: LoaderParams, w: Work, cost: CostParams) -> Estimate:
    loops = [Loop("LOAD", words(p.features, p.vector), 1, SIMPLE_DEPTH, w.packs)]
    return make_estimate(name, p.KIND, loops, 0.0, cost, cost.axi_call_cycles)


def writer_estimate(name: str, p: WriterParams, w: Work, cost: CostParams) -> Estimate:
    loops = [Loop("STORE", words(p.features, p.vector), 1, SIMPLE_DEPTH, w.packs)]
    return make_estimate(name, p.KIND, loops, 0.0, cost, cost.axi_call_cycles)


def loader_body(k: KernelProcess) -> Proc:
    """Read a pack's fp32 row from memory (and its per-token scales) in one pass."""
    f, vec = words(k.p.features, k.p.vector), k.p.vector
    sizes = k.step.pack_sizes()
    stream = k.open(sum(sizes) * k.p.features * FP32_BYTES)
    for ntok in sizes:
        bytes_per_word = ntok * FP32_BYTES * vec
        for w in k.gran.split(f):
            ready = yield from k.request(stream, w * bytes_per_word)
            k.busy(w)
            k.wait_memory(ready)
            yield from k.emit(w, span=w)
        k.busy(SIMPLE_DEPTH - 1)


def writer_body(k: KernelProcess) -> Proc:
    """Write fp32 activations to memory (posted writes; done when the last one lands)."""
    f, vec = words(k.p.features, k.p.vector), k.p.vector
    sizes = k.step.pack_sizes()
    stream = k.open(sum(sizes) * k.p.features * FP32_BYTES, write=True)
    inp = k.stream_in()
    last = k.now
    for ntok in sizes:
        for w in k.gran.split(f):
            yield from k.take(inp, w, w, 1.0)
            last = yield from k.request(stream, w * vec * ntok * FP32_BYTES)
        k.busy(SIMPLE_DEPTH - 1)
    k.wait_memory(last)


def hls(p: LoaderParams | WriterParams) -> dict[str, Any]:
    """memory.h's load/store: one m_axi port of ``port_bits``."""
    return {"PORT_BITS": p.port_bits, "PORTS": len(p.ports)}


# W4A8 region reports: input_loader_q / input_loader_kv (quantising: 24 DSP, ~5.05k LUT for
# 8 lanes), input_loader, output_writer
QUANTIZING = Coeffs(per_lane={"dsp": 3, "lut": 631.5, "ff": 408.1})
LOADER = Coeffs(fixed={"lut": 892, "ff": 938})
WRITER = Coeffs(fixed={"lut": 1124, "ff": 933})


def loader_resources(p: LoaderParams) -> dict[str, float]:
    return (QUANTIZING if p.quantize else LOADER).scaled(0, p.lanes)


def writer_resources(p: WriterParams) -> dict[str, float]:
    return WRITER.scaled(0, p.lanes)


register(
    KindSpec(
        "loader",
        "m_axi loader of fp32 activations",
        LoaderParams,
        work,
        loader_estimate,
        loader_body,
        hls,
        loader_resources,
    )
)
register(
    KindSpec(
        "writer",
        "m_axi writer of fp32 activations",
        WriterParams,
        work,
        writer_estimate,
        writer_body,
        hls,
        writer_resources,
    )
)
