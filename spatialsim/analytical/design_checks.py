"""The paper's constraints (Eqs. 2-7) evaluated for a concrete design, phase by phase."""

from __future__ import annotations

import dataclasses

from spatialsim.analytical.constraints import (
    Check,
    OperatorRates,
    bandwidth_check,
    compute_check,
    onchip_check,
    port_check,
    weight_elements,
)
from spatialsim.analytical.latency import matmul_rates
from spatialsim.design.graph import Design
from spatialsim.design.kernels import macs_per_cycle
from spatialsim.hardware.platform import Platform

# Paper symbols for the design's canonical kernels.
SYMBOLS = {
    "q": "q_proj",
    "k": "k_proj",
    "v": "v_proj",
    "a1": "qk_matmul",
    "a2": "sv_matmul",
    "p": "out_proj",
    "f1": "ffn1",
    "f2": "ffn2",
}


def operator_rates(design: Design, phase: str) -> OperatorRates:
    """M_i, r_i (tokens sharing a weight) and channel counts of the design in ``phase``."""
    g, p = design.graph(phase), design.tokens_per_pack(phase)
    m = matmul_rates(design, phase)
    macs = {sym: float(m[k]) for sym, k in SYMBOLS.items()}
    reuse, channels = {}, {}
    for sym, k in SYMBOLS.items():
        a = g.nodes[k]
        reuse[sym] = min(a["rows"], p) if a["kind"] in ("linear", "attn_matmul") else 1
        channels[sym] = len(a.get("ports", ())) or 1
    return OperatorRates(macs, reuse, weight_elements(design.model), channels)


def design_checks(
    design: Design, platform: Platform, phase: str, prompt_len: int, clock_mhz: float
) -> list[Check]:
    """Eqs. 2-7 for ``design`` in ``phase`` on ``platform``."""
    g = design.graph(phase)
    rates = operator_rates(design, phase)
    wb = int(g.nodes["q_proj"]["weight_bits"])
    ab = int(g.nodes["q_proj"]["act_bits"])
    pack = int(g.nodes["q_proj"]["pack"])
    streamed = any("ports" in g.nodes[k] for k in SYMBOLS.values())
    onchip, _ = onchip_check(
        design.model,
        rates,
        design.resident_layers,
        platform,
        wb,
        ab,
        design.max_seq_len,
        prompt_len,
        streamed,
    )
    # Eq. 2 counts the hardware: every array row, whether or not a pack fills it.
    peak = dataclasses.replace(
        rates, macs={s: float(macs_per_cycle(g.nodes[k], 1 << 20)) for s, k in SYMBOLS.items()}
    )
    return [
        compute_check(peak, design.resident_layers, platform, pack, clock_mhz),
        onchip,
        port_check(rates, platform, wb, packed=False, streamed=streamed),
        port_check(rates, platform, wb, packed=True, streamed=streamed),
        bandwidth_check(rates, platform, wb, clock_mhz),
    ]
