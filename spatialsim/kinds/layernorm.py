"""LayerNorm (or RMSNorm) over each row (fp32): a sum pass at the reduction II, then the
normalise pass (mean, variance and reciprocal square root in its iteration latency).

A pre-norm layer's norm can feed a linear directly (``quantize``): the normalise pass then
writes int8 at the linear's static input scale, in the same loop (the chen2024-llama
templates' input norms)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spatialsim.costmodel.loops import SIMPLE_DEPTH, Estimate, Loop, make_estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.kinds.base import (
    Coeffs,
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    RowStream,
    features,
    lanes,
    param,
    reduction_ii,
    vector,
)
from spatialsim.kinds.registry import KindSpec, register


@dataclass(frozen=True)
class LayerNormParams(RowStream, KernelParams):
    KIND = "layernorm"

    lanes: int = lanes()
    features: int = features()
    reduction_ii: float = reduction_ii()
    norm: str = param("normalisation", choices=("layernorm", "rmsnorm"))
    vector: int = vector()
    quantize: bool = param(
        "write int8 at the next linear's static input scale instead of fp32", default=False
    )


def work(p: LayerNormParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * p.features)


def estimate(name: str, p: LayerNormParams, w: Work, cost: CostParams) -> Estimate:
    f = p.words
    loops = [
        Loop("SUM", f, p.reduction_ii, SIMPLE_DEPTH, w.packs),
        Loop("NORM", f, 1, cost.layernorm_norm_depth_cycles, w.packs),
    ]
    return make_estimate(name, p.KIND, loops, 0.0, cost)


def body(k: KernelProcess) -> Proc:
    """Accumulate a row, then write it normalised."""
    p: LayerNormParams = k.p
    one = k.estimate(estimate, Work(k.step.phase, 1, 1, 1, 0))
    sm, nm = one.loop("SUM"), one.loop("NORM")
    inp = k.stream_in()
    for _ in k.step.pack_sizes():
        yield from k.consume(inp, p.words, sm.ii)
        k.busy(nm.depth - nm.ii + sm.depth - sm.ii)
        yield from k.produce(p.words, nm.ii)


def hls(p: LayerNormParams) -> dict[str, Any]:
    return {"NORM": p.norm, "REDUCTION_II": p.reduction_ii, "QUANTIZE": p.quantize}


# LayerNorm (W4A8 region reports)
COEFFS = Coeffs(per_lane={"dsp": 10, "lut": 1600, "ff": 2342}, fixed={"bram36": 10})


def resources(p: LayerNormParams) -> dict[str, float]:
    return COEFFS.scaled(0, p.lanes * p.vector)


SPEC = register(
    KindSpec("layernorm", __doc__ or "", LayerNormParams, work, estimate, body, hls, resources)
)
