"""Isolated cycle estimates for every kernel of a design, its weight loaders and regions.

Kernels come from :mod:`spatialsim.costmodel.isolated`. A region (one SLR) is a dataflow of
its kernels: a kernel starts with the producers of its streams and after the producers of
its on-chip buffers (K, V, Q) have finished, so the region's latency is its latest
finish plus a dataflow overhead, the way Vitis HLS estimates a DATAFLOW region (Chen 2024
section 4: R2's 602,718 cycles are the V writer followed by the output projection).
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from spatialsim.costmodel.isolated import Estimate, estimate, weight_loader
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work, decode_work, prefill_work
from spatialsim.design.graph import Design
from spatialsim.design.kernels import is_handoff

MATRIX_WITH_WEIGHTS = ("linear", "gemv")

# The W4A8 artifact's HLS module names for our canonical ones (Chen 2024 W4A8).
HLS_ALIASES = {
    "Linear_layer_q": "q_proj",
    "Linear_layer_k": "k_proj",
    "Linear_layer_v": "v_proj",
    "Attention_layer": "qk_matmul",
    "Mask_layer": "mask",
    "Softmax_layer": "softmax",
    "Context_layer": "sv_matmul",
    "Linear_layer_ds0": "out_proj",
    "Res_layer0": "residual0",
    "Layer_norm0": "layernorm0",
    "K_writer": "k_writer",
    "V_writer": "v_writer",
    "Q_buffer": "q_buffer",
    "input_loader_ds1_res1": "splitter",
    "Linear_layer_ds1": "ffn1",
    "Gelu_layer": "gelu",
    "Linear_layer_ds2": "ffn2",
    "Res_layer1": "residual1",
    "Layer_norm1": "layernorm1",
    "output_writer": "output_writer",
    "weight_loader_r1": "weight_loader_r1",
    "weight_ds0_loader": "weight_loader_r2",
    "weight_loader_r3": "weight_loader_r3",
    "region_1": "region_1",
    "region_2": "region_2",
    "region_3": "region_3",
}


def phase_work(design: Design, phase: str, seq_len: int) -> Work:
    """Prefill of ``seq_len`` tokens, or one decode step at context ``seq_len``."""
    pack = design.tokens_per_pack(phase)
    return prefill_work(seq_len, pack) if phase == "prefill" else decode_work(seq_len, pack)


def kernel_estimates(
    design: Design, phase: str, seq_len: int, params: CostParams | None = None
) -> dict[str, Estimate]:
    """Every kernel of the phase's bitstream, then each region's weight loader."""
    params = params or CostParams()
    g = design.graph(phase)
    work = phase_work(design, phase, seq_len)
    one = Work(phase, 1, 1, 1, 0)  # the head runs once per step, on one token
    out = {
        n: estimate(n, dict(g.nodes[n]), one if n in design.head else work, params) for n in g.nodes
    }
    for slr in sorted({g.nodes[n]["slr"] for n in g.nodes}):
        mats = [
            dict(g.nodes[n])
            for n in g.nodes
            if g.nodes[n]["slr"] == slr and g.nodes[n]["kind"] in MATRIX_WITH_WEIGHTS
        ]
        if mats:
            name = f"weight_loader_r{slr + 1}"
            out[name] = weight_loader(name, mats, work, params)
    return out


def region_latencies(
    design: Design, phase: str, kernels: dict[str, Estimate], params: CostParams | None = None
) -> dict[str, float]:
    """``region_<slr + 1>`` -> latency of that SLR's dataflow region (none for a design
    whose kernels wait on each other in a cycle, such as an overlay's units)."""
    params = params or CostParams()
    g: nx.DiGraph = design.graph(phase)
    if not nx.is_directed_acyclic_graph(g):
        return {}
    start: dict[str, float] = {}
    for n in nx.topological_sort(g):
        t = 0.0
        for u in g.predecessors(n):
            if g.nodes[u]["slr"] != g.nodes[n]["slr"]:
                continue  # another region: its link is a stream between concurrent kernels
            if is_handoff(g.nodes[u]["kind"]):
                t = max(t, start[u] + kernels[u].cycles)
            else:
                t = max(t, start[u])
        start[n] = t
    regions: dict[str, float] = {}
    for n, t in start.items():
        key = f"region_{g.nodes[n]['slr'] + 1}"
        regions[key] = max(regions.get(key, 0.0), t + kernels[n].cycles)
    for key, value in regions.items():
        loader = kernels.get(f"weight_loader_r{key.split('_')[1]}")
        if loader is not None:
            value = max(value, loader.cycles)
        regions[key] = value + params.dataflow_overhead_cycles
    return dict(sorted(regions.items()))


def estimates_json(
    design: Design, phase: str, seq_len: int, params: CostParams | None = None
) -> dict[str, Any]:
    """The ``spatialsim kernels`` document: kernels, weight loaders and regions by name."""
    kernels = kernel_estimates(design, phase, seq_len, params)
    regions = region_latencies(design, phase, kernels, params)
    doc: dict[str, Any] = {n: e.to_json() for n, e in kernels.items()}
    for name, cycles in regions.items():
        doc[name] = {"cycles": round(cycles, 3), "kind": "region"}
    return doc
