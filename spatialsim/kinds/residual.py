"""Row plumbing in fp32: the residual add of two streams and the splitter that copies a row
to the next linear (quantised) and to the FFN bypass."""

from __future__ import annotations

from dataclasses import dataclass
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
    RowStream,
    features,
    lanes,
    param,
    rowwise,
    vector,
)
from spatialsim.kinds.registry import KindSpec, register


@dataclass(frozen=True)
class ResidualParams(RowStream, KernelParams):
    KIND = "residual"

    lanes: int = lanes()
    features: int = features()
    vector: int = vector()


def residual_work(p: ResidualParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * p.features)


def residual_estimate(name: str, p: ResidualParams, w: Work, cost: CostParams) -> Estimate:
    loops = [Loop("ADD", p.words, 1, SIMPLE_DEPTH, w.packs)]
    return make_estimate(name, p.KIND, loops, w.packs * row_store_fitted(p.words, cost), cost)


def residual_body(k: KernelProcess) -> Proc:
    """Add two streams element by element (the inputs in graph order)."""
    p: ResidualParams = k.p
    a, b = list(k.ins.values())
    fitted = row_store_fitted(p.words, k.params)
    for _ in k.step.pack_sizes():
        for w in k.gran.split(p.words):
            yield from k.get(a, w)
            yield from k.take(b, w, w, 1.0)
            yield from k.emit(w, span=w)
        k.busy(SIMPLE_DEPTH - 1 + fitted)


def residual_hls(p: ResidualParams) -> dict[str, Any]:
    return {"F": p.features}


@dataclass(frozen=True)
class SplitterParams(RowStream, KernelParams):
    KIND = "splitter"

    lanes: int = lanes()
    features: int = features()
    quantize: bool = param("quantise the copy sent to the next linear")
    vector: int = vector()


def splitter_work(p: SplitterParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * p.features)


def splitter_estimate(name: str, p: SplitterParams, w: Work, cost: CostParams) -> Estimate:
    loops = [Loop("SPLIT", p.words, 1, SIMPLE_DEPTH, w.packs)]
    return make_estimate(name, p.KIND, loops, 0.0, cost)


def splitter_body(k: KernelProcess) -> Proc:
    """Copy the row to every output (quantised copy for the linear, fp32 bypass), chunk by
    chunk and output by output: the bypass must hold what the FFN has not consumed."""
    p: SplitterParams = k.p
    for _ in k.step.pack_sizes():
        yield from rowwise(k, p.words, p.words)
        k.busy(SIMPLE_DEPTH - 1)


def splitter_hls(p: SplitterParams) -> dict[str, Any]:
    return {"F": p.features, "QUANTIZE": p.quantize}


# W4A8 region reports: Res_layer; input_loader_ds1_res1 (the splitter)
RESIDUAL_COEFFS = Coeffs(per_lane={"dsp": 2, "lut": 243.6, "ff": 454.6}, fixed={"bram36": 8})
SPLITTER_COEFFS = Coeffs(per_lane={"dsp": 3, "lut": 537.0, "ff": 350.9})


def residual_resources(p: ResidualParams) -> dict[str, float]:
    return RESIDUAL_COEFFS.scaled(0, p.lanes * p.vector)


def splitter_resources(p: SplitterParams) -> dict[str, float]:
    return SPLITTER_COEFFS.scaled(0, p.lanes * p.vector)


register(
    KindSpec(
        "residual",
        "element-wise add of two streams",
        ResidualParams,
        residual_work,
        residual_estimate,
        residual_body,
        residual_hls,
        residual_resources,
    )
)
register(
    KindSpec(
        "splitter",
        "copies a row to the next linear and to the bypass",
        SplitterParams,
        splitter_work,
        splitter_estimate,
        splitter_body,
        splitter_hls,
        splitter_resources,
    )
)
