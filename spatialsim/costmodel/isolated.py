"""Isolated cycle estimates of kernels, loop by loop, the way Vitis HLS reports them.

Each kernel kind builds its own estimate (``spatialsim/kinds/``, from the pieces in
:mod:`spatialsim.costmodel.loops`); :func:`estimate` looks the kind up for a design graph
node. This module adds what spans kernels: a region's weight loader.
"""

from __future__ import annotations

from math import ceil
from typing import Any

from spatialsim.costmodel.loops import (
    SIMPLE_DEPTH,
    Estimate,
    Loop,
    array_prologue,
    drain_loops,
    row_store_fitted,
)
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.kinds import kind

Attrs = dict[str, Any]

__all__ = [
    "SIMPLE_DEPTH",
    "Estimate",
    "Loop",
    "array_prologue",
    "drain_loops",
    "estimate",
    "outputs_per_pass",
    "row_store_fitted",
    "weight_loader",
]


def estimate(name: str, attrs: Attrs, work: Work, params: CostParams) -> Estimate:
    """The isolated estimate of kernel ``name`` (a design graph node) for ``work``."""
    spec = kind(attrs["kind"])
    return spec.estimate(name, spec.partial(name, attrs), work, params)


def weight_loader(name: str, linears: list[Attrs], work: Work, params: CostParams) -> Estimate:
    """A region's weight loader: one weight word per cycle for each of its linears, the
    linears' streams side by side (its latency is the longest one)."""
    longest: list[Loop] = []
    for a in linears:
        p = kind(a["kind"]).partial(name, a)
        if a["kind"] == "linear":
            lp = Loop("WEIGHTS", p.in_features, 1, 1, work.packs * p.blocks)
        else:
            beats = ceil(p.in_features * p.pes * p.pack * p.weight_bits / p.port_bits)
            lp = Loop("WEIGHTS", beats, 1, 1, work.tokens * p.passes)
        if not longest or lp.cycles > longest[0].cycles:
            longest = [lp]
    return Estimate(name, "weight_loader", tuple(longest), 0.0, params.axi_call_cycles)


def outputs_per_pass(attrs: Attrs) -> int:
    """Outputs a matrix kernel completes per block or pass (for reports)."""
    return kind(attrs["kind"]).partial("?", attrs).output_burst_words()  # type: ignore[no-any-return]
