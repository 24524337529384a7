"""GEMV engines (decode, Chen 2024 decode): ``engines`` engines of ``pes`` PEs, each PE
holding ``pack`` weights, each engine streaming one 512-bit weight beat per cycle from its
own memory port.

Two loop orders (``order``, a structural choice real builds differ in; Chen 2024 W8A8):

- ``row`` (default): per token the kernel buffers the K-long input vector (BUFFER, one
  element per cycle), then makes ceil(N / (engines x pes x pack)) passes over K (MAC),
  broadcasting the buffered activation against the engines' weight beats; each pass's
  outputs leave as the next pass computes, so the consumer starts early but this kernel
  cannot start before its whole input has arrived. The default because the public GEMV
  kernels Chen 2024 decode describes buffer the input vector first.
- ``column`` (input-stationary): each input element, as it arrives, meets its weight
  column: ``passes`` beats per engine update every accumulator (STREAM, K x passes
  iterations); the kernel overlaps its producer, but every output completes only at the
  end and is then re-quantised and written, one per cycle (WRITE).

Both read the same weight bytes (stored in the order they are consumed) and do the same
multiply-accumulates; they differ in what overlaps what.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from spatialsim.costmodel.loops import (
    SIMPLE_DEPTH,
    Estimate,
    Loop,
    drain_cycles,
    drain_loops,
    make_estimate,
)
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.kinds.base import (
    Coeffs,
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    bits,
    count,
    param,
    port_bits,
    ports,
    vector,
    words,
)
from spatialsim.kinds.registry import KindSpec, register
from spatialsim.workload.operators import matmul_macs, weight_bytes

ORDERS = ("row", "column")


@dataclass(frozen=True)
class GemvParams(KernelParams):
    KIND = "gemv"

    engines: int = count("GEMV engines, each with its own memory port", 1, 64)
    pes: int = count("PEs per engine (one 16-bit weight pair each)", 1, 256)
    pack: int = count("MACs per DSP", 1, 4)
    in_features: int = count("reduction length K")
    out_features: int = count("output features N")
    weight_bits: int = bits("weight bit width")
    act_bits: int = bits("activation bit width")
    out_dtype: str = param("output type after re-quantisation", choices=("int8", "fp32"))
    ports: tuple[str, ...] = ports()
    port_bits: int = port_bits()
    order: str = param(
        "loop order: 'row' buffers the input then streams weights row by row, emitting "
        "outputs as passes finish; 'column' is input-stationary (starts on the first input "
        "element, outputs complete at the end)",
        choices=ORDERS,
        default="row",
    )
    engine_group: str = param(
        "GEMV kernels with the same non-empty group are one set of engines used in turn "
        "(TeraFly reuses one GEMV stage for Q/K/V, the projection and the FFN, TeraFly repo): "
        "the group's resources are counted once, as its largest member's",
        default="",
    )
    vector: int = vector()

    @property
    def outputs_per_pass(self) -> int:
        """Outputs all engines produce in one pass over K (each PE holds ``pack`` weights)."""
        return self.engines * self.pes * self.pack

    @property
    def passes(self) -> int:
        return ceil(self.out_features / self.outputs_per_pass)

    def pass_cycles(self, cost: CostParams) -> float:
        """One pass: the broadcast activation walks K, one weight beat per cycle per engine
        (the MAC loop: II 1, depth = overhead + 1)."""
        return float(self.in_features + cost.gemv_pass_overhead_cycles)

    @property
    def beat_bytes(self) -> float:
        """Weight bytes one engine reads per cycle (pes x pack weights)."""
        return self.pes * self.pack * self.weight_bits / 8

    @property
    def pass_bytes_per_engine(self) -> float:
        """Weight bytes one engine reads in one pass (K beats of pes x pack weights)."""
        return self.in_features * self.beat_bytes

    def macs_per_cycle(self, tokens_per_pack: int) -> int:
        return self.engines * self.pes * self.pack

    def weight_bits_per_cycle(self) -> int:
        return self.engines * self.pes * self.pack * self.weight_bits

    def output_burst_words(self) -> int:
        return words(self.outputs_per_pass, self.vector)

    @property
    def words_in(self) -> int:
        return words(self.in_features, self.vector)

    @property
    def words_out(self) -> int:
        return words(self.out_features, self.vector)

    def stream_words_in(self) -> int | None:
        return self.words_in

    def stream_words_out(self) -> int | None:
        return self.words_out


def work(p: GemvParams, w: Work) -> KernelWork:
    """Every token streams the whole weight matrix once."""
    return KernelWork(
        macs=matmul_macs(w.tokens, p.in_features, p.out_features),
        weight_bytes=weight_bytes(p.in_features, p.out_features, p.weight_bits) * w.tokens,
    )


def estimate(name: str, p: GemvParams, w: Work, cost: CostParams) -> Estimate:
    k = p.in_features
    if p.order == "column":
        loops = [
            Loop("STREAM", k * p.passes, 1, cost.gemv_pass_overhead_cycles + 1, w.tokens),
            Loop("WRITE", p.words_out, 1, SIMPLE_DEPTH, w.tokens),
        ]
        return make_estimate(name, p.KIND, loops, 0.0, cost)
    loops = [
        Loop("BUFFER", p.words_in, 1, SIMPLE_DEPTH, w.tokens),
        Loop("MAC", k, 1, cost.gemv_pass_overhead_cycles + 1, w.tokens * p.passes),
    ]
    per_pass = p.output_burst_words()
    loops += drain_loops(k, p.words_out, per_pass, p.passes, w.tokens)
    return make_estimate(name, p.KIND, loops, 0.0, cost)


def body(k: KernelProcess) -> Proc:
    """Row order: buffer the input vector (one element per cycle), then stream weights, one
    512-bit beat per engine per cycle, each engine from its own channel. Column order: see
    :func:`column_body`."""
    p: GemvParams = k.p
    if p.order == "column":
        yield from column_body(k, p)
        return
    kdim, n = p.in_features, p.out_features
    pass_cycles = p.pass_cycles(k.params)
    pass_bytes = p.pass_bytes_per_engine * p.engines
    per_pass = p.outputs_per_pass
    groups = k.gran.split(p.passes)
    weights = k.open(kdim * n * p.weight_bits / 8)
    inp = k.stream_in()
    for _ in range(k.step.tokens):
        yield from k.consume(inp, p.words_in)
        k.busy(SIMPLE_DEPTH - 1)
        done = sent = 0  # outputs computed, words written
        for g in groups:
            ready = yield from k.request(weights, g * pass_bytes)
            k.busy(g * pass_cycles)
            k.wait_memory(ready)
            done = min(n, done + g * per_pass)
            out = words(done, p.vector) if done < n else p.words_out
            out, sent = out - sent, out
            yield from k.emit(out, span=(g - 1) * pass_cycles)
    k.busy(drain_cycles(k.estimate(estimate, k.step)))


def column_body(k: KernelProcess, p: GemvParams) -> Proc:
    """Each input element is processed as it arrives, ``passes`` cycles (one weight beat
    per engine each); after the last, the accumulators are re-quantised and written."""
    kdim, n, passes = p.in_features, p.out_features, p.passes
    element_bytes = passes * p.beat_bytes * p.engines
    depth = k.params.gemv_pass_overhead_cycles + 1
    weights = k.open(kdim * n * p.weight_bits / 8)
    inp = k.stream_in()
    vec = p.vector
    for _ in range(k.step.tokens):
        for c in k.gran.split(p.words_in):
            ready = yield from k.request(weights, c * vec * element_bytes)
            yield from k.take(inp, c, c * vec * passes, float(vec * passes))
            k.wait_memory(ready)
        k.busy(depth - 1)
        yield from k.produce(p.words_out)
        k.busy(SIMPLE_DEPTH - 1)


def hls(p: GemvParams) -> dict[str, Any]:
    """gemv.h's GemvCfg: ENGINES (one port each), PES, PACK, W_BITS."""
    return {
        "ENGINES": p.engines,
        "PES": p.pes,
        "PACK": p.pack,
        "W_BITS": p.weight_bits,
        "ACT_BITS": p.act_bits,
        "PORTS": len(p.ports),
        "COLUMN": p.order == "column",
    }


# GEMV engines reuse the linear PE (one DSP per packed weight pair) and re-quantise one
# token lane per engine; no report exists for them yet.
COEFFS = Coeffs(per_pe={"dsp": 1, "lut": 456.7, "ff": 428.2}, per_lane={"dsp": 6})


def resources(p: GemvParams) -> dict[str, float]:
    return COEFFS.scaled(p.engines * p.pes, p.engines)


SPEC = register(KindSpec("gemv", __doc__ or "", GemvParams, work, estimate, body, hls, resources))
