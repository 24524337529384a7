"""GEMV engines (decode, chen2024.md 3.3): ``engines`` engines of ``pes`` PEs, each PE
holding ``pack`` weights, each engine streaming one 512-bit weight beat per cycle from its
own memory port.

Per token the kernel buffers the input vector (one element per cycle), then makes
ceil(N / (engines x pes x pack)) passes over K, broadcasting the activation against the
engines' weight beats.
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
)
from spatialsim.kinds.registry import KindSpec, register
from spatialsim.workload.operators import matmul_macs, weight_bytes


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
    def pass_bytes_per_engine(self) -> float:
        """Weight bytes one engine reads in one pass (K beats of pes x pack weights)."""
        return self.in_features * self.pes * self.pack * self.weight_bits / 8

    def macs_per_cycle(self, tokens_per_pack: int) -> int:
        return self.engines * self.pes * self.pack

    def weight_bits_per_cycle(self) -> int:
        return self.engines * self.pes * self.pack * self.weight_bits

    def output_burst_words(self) -> int:
        return self.outputs_per_pass


def work(p: GemvParams, w: Work) -> KernelWork:
    """Every token streams the whole weight matrix once."""
    return KernelWork(
        macs=matmul_macs(w.tokens, p.in_features, p.out_features),
        weight_bytes=weight_bytes(p.in_features, p.out_features, p.weight_bits) * w.tokens,
    )


def estimate(name: str, p: GemvParams, w: Work, cost: CostParams) -> Estimate:
    k = p.in_features
    loops = [
        Loop("BUFFER", k, 1, SIMPLE_DEPTH, w.tokens),
        Loop("MAC", k, 1, cost.gemv_pass_overhead_cycles + 1, w.tokens * p.passes),
    ]
    loops += drain_loops(k, p.out_features, p.outputs_per_pass, p.passes, w.tokens)
    return make_estimate(name, p.KIND, loops, 0.0, cost)


def body(k: KernelProcess) -> Proc:
    """Buffer the input vector (one element per cycle), then stream weights, one 512-bit
    beat per engine per cycle, each engine from its own channel."""
    p: GemvParams = k.p
    kdim, n = p.in_features, p.out_features
    pass_cycles = p.pass_cycles(k.params)
    pass_bytes = p.pass_bytes_per_engine * p.engines
    per_pass = p.outputs_per_pass
    groups = k.gran.split(p.passes)
    weights = k.open(kdim * n * p.weight_bits / 8)
    inp = k.stream_in()
    for _ in range(k.step.tokens):
        yield from k.consume(inp, kdim)
        yield from k.busy(SIMPLE_DEPTH - 1)
        left = n
        for g in groups:
            ready = weights.request(k.env.now, g * pass_bytes)
            yield from k.busy(g * pass_cycles)
            yield from k.wait_memory(ready)
            out = min(left, g * per_pass)
            left -= out
            yield from k.emit(out, span=(g - 1) * pass_cycles)
    yield from k.busy(drain_cycles(estimate(k.name, p, k.step, k.params)))


def hls(p: GemvParams) -> dict[str, Any]:
    """gemv.h's GemvCfg: ENGINES (one port each), PES, PACK, W_BITS."""
    return {
        "ENGINES": p.engines,
        "PES": p.pes,
        "PACK": p.pack,
        "W_BITS": p.weight_bits,
        "ACT_BITS": p.act_bits,
        "PORTS": len(p.ports),
    }


# GEMV engines reuse the linear PE (one DSP per packed weight pair) and re-quantise one
# token lane per engine; no report exists for them yet.
COEFFS = Coeffs(per_pe={"dsp": 1, "lut": 456.7, "ff": 428.2}, per_lane={"dsp": 6})


def resources(p: GemvParams) -> dict[str, float]:
    return COEFFS.scaled(p.engines * p.pes, p.engines)


SPEC = register(KindSpec("gemv", __doc__ or "", GemvParams, work, estimate, body, hls, resources))
