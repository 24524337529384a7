"""The paper's resource constraints (Chen et al. 2024 §3, Eqs. 2-7) for a design or for M.

- compute (Eq. 2): sum_i M_i * C <= M_tot;
- on-chip memory (Eq. 3): weights (or a double-buffered tile when they stream), the KV
  cache 4 * l_max * d * b_A and FIFOs 16 * s * b_A plus the l * d * b_A residual bypass;
- memory ports (Eqs. 4-6): R_i = ceil(s_i * b / ((M_i / r_i) * S_BRAM)) * (M_i / r_i) / k;
- off-chip bandwidth (Eq. 7): B_i = b_W * (M_i / r_i) * freq, checked per channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from spatialsim.hardware.platform import BRAM36_BITS, Platform
from spatialsim.workload.models import ModelConfig

BRAM_PORT_BITS = 72  # widest BRAM36 port (AMD UG573); packing puts 72 // b_W weights per word
STAGE_FIFOS = 16  # Chen 2024 model: 16 stage-to-stage FIFOs
STAGE_FIFO_DEPTH = 4  # Chen 2024 designs: depth of the inner-region FIFOs


@dataclass(frozen=True)
class Check:
    """One constraint: demand against capacity, with the unit and a one-line explanation."""

    name: str
    demand: float
    capacity: float
    unit: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.demand <= self.capacity

    @property
    def utilization(self) -> float:
        return self.demand / self.capacity if self.capacity else float("inf")

    def to_json(self) -> dict[str, Any]:
        return {
            "demand": self.demand,
            "capacity": self.capacity,
            "unit": self.unit,
            "ok": self.ok,
            "utilization": self.utilization,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class OperatorRates:
    """M_i (MACs/cycle), r_i (MACs sharing a loaded weight) and weight elements s_i."""

    macs: dict[str, float]
    reuse: dict[str, int]
    weights: dict[str, int]
    channels: dict[str, int]


def weight_elements(model: ModelConfig) -> dict[str, int]:
    """s_i for the operators that hold weights (gated FFNs fuse gate and up into f1)."""
    d, dkv, f = model.hidden, model.kv_hidden, model.ffn
    return {
        "q": d * d,
        "k": d * dkv,
        "v": d * dkv,
        "p": d * d,
        "f1": d * f * (model.ffn_matrices - 1),
        "f2": d * f,
    }


def compute_check(
    rates: OperatorRates,
    resident_layers: int,
    platform: Platform,
    macs_per_dsp: int,
    clock_mhz: float,
) -> Check:
    demand = sum(rates.macs.values()) * resident_layers
    cap = platform.fabric_macs_per_cycle(macs_per_dsp, clock_mhz)
    return Check(
        "compute",
        demand,
        cap,
        "MAC/cycle",
        f"Eq. 2: sum M_i x C <= M_tot = usable DSPs x {macs_per_dsp} MACs/DSP"
        + (" + AI engines" if platform.aie else ""),
    )


def onchip_check(
    model: ModelConfig,
    rates: OperatorRates,
    resident_layers: int,
    platform: Platform,
    weight_bits: int,
    act_bits: int,
    max_seq_len: int,
    prompt_len: int,
    streamed: bool | None = None,
) -> tuple[Check, bool]:
    """Eq. 3; returns the check and whether weights stay on chip.

    ``streamed`` says whether the design streams weights from off-chip memory; ``None``
    keeps them on chip when they fit (the balance search's choice).
    """
    cap = float(platform.onchip_bits())
    weights = model.weights_per_layer() * weight_bits * resident_layers
    kv = 4 * max_seq_len * model.kv_hidden * act_bits * resident_layers
    fifos = (
        STAGE_FIFOS * STAGE_FIFO_DEPTH * act_bits + prompt_len * model.hidden * act_bits
    ) * resident_layers
    on_chip = weights + kv + fifos <= cap if streamed is None else not streamed
    held = weights if on_chip else 2 * sum(rates.macs[i] * weight_bits for i in rates.weights)
    what = "all weights on chip" if on_chip else "weights streamed, double-buffered tiles"
    return Check(
        "onchip_memory",
        held + kv + fifos,
        cap,
        "bits",
        f"Eq. 3: {what} {held:,.0f} + KV cache {kv:,.0f} + FIFOs {fifos:,.0f}",
    ), on_chip


def port_check(
    rates: OperatorRates, platform: Platform, weight_bits: int, packed: bool, streamed: bool
) -> Check:
    """Eqs. 4-6: BRAM blocks for weight buffers split into M_i / r_i partitions.

    A buffer holds the whole weight matrix (s_i) when weights stay on chip, or a
    double-buffered tile of one word per partition when they stream.
    """
    k = max(1, BRAM_PORT_BITS // weight_bits) if packed else 1
    blocks = 0.0
    for i, total in rates.weights.items():
        parts = max(1.0, rates.macs[i] / rates.reuse[i])
        s = 2 * parts if streamed else total
        blocks += ceil(s * weight_bits / (parts * BRAM36_BITS)) * parts / k
    cap = platform.total("bram36") - platform.reserved.bram36
    return Check(
        "memory_ports_packed" if packed else "memory_ports",
        blocks,
        cap,
        "BRAM36",
        f"Eqs. 4-6: weight buffers in BRAM, {k} weight(s) per word",
    )


def bandwidth_check(
    rates: OperatorRates, platform: Platform, weight_bits: int, clock_mhz: float
) -> Check:
    """Eq. 7 per channel: the busiest channel's demand against its measured bandwidth."""
    kind = "HBM" if platform.hbm is not None else "DDR"
    bw = platform.channel_read_bw_gbps(kind)
    worst, name = 0.0, ""
    for i in rates.weights:
        demand = weight_bits * rates.macs[i] / rates.reuse[i] * clock_mhz * 1e6 / 8 / 1e9
        per_channel = demand / max(1, rates.channels.get(i, 1))
        if per_channel > worst:
            worst, name = per_channel, i
    return Check(
        "offchip_bandwidth",
        worst,
        bw,
        "GB/s",
        f"Eq. 7: B_i = b_W x M_i / r_i x freq per channel, busiest operator {name} "
        f"({kind} channel measured {bw} GB/s)",
    )
