"""Work balancing (Chen et al. 2024 §3, Eqs. 10-12): the largest balanced M that fits.

Equal stage times give M = M_{q,k,v,p} = (d/l) M_{a1,a2} = (d/d_FFN) M_{f1,f2}, so
T_prefill = (1/freq) N (1 + 1/C) l d^2 / M. A linear search raises M in steps of one array
column (``step`` MACs/cycle) until a constraint of Eqs. 2-7 fails, and reports that
constraint as the one that binds.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from spatialsim.analytical.constraints import (
    Check,
    OperatorRates,
    bandwidth_check,
    compute_check,
    onchip_check,
    weight_elements,
)
from spatialsim.constants import PACK_TOKENS
from spatialsim.errors import UserError
from spatialsim.hardware.platform import Platform
from spatialsim.workload.models import ModelConfig

W4A8_BITS = (4, 8)  # the W4A8 design point the search targets (Chen 2024 prefill)
MACS_PER_DSP = 2  # two MACs per DSP with weight packing (Chen 2024 prefill)


@dataclass(frozen=True)
class BalanceResult:
    """The best M, its per-operator split, the constraint that stops the search, latencies."""

    m: float
    next_m: float
    rates: dict[str, float]
    checks: list[Check]
    binding: Check | None
    weights_on_chip: bool
    channels: dict[str, int]
    prefill_seconds: float
    decode_seconds: float
    clock_mhz: float
    prompt_len: int
    resident_layers: int

    def to_json(self) -> dict[str, Any]:
        return {
            "m": self.m,
            "next_m": self.next_m,
            "macs_per_cycle": self.rates,
            "clock_mhz": self.clock_mhz,
            "prompt_len": self.prompt_len,
            "resident_layers": self.resident_layers,
            "weights_on_chip": self.weights_on_chip,
            "weight_channels": self.channels,
            "binding": None if self.binding is None else self.binding.name,
            "constraints": {c.name: c.to_json() for c in self.checks},
            "prefill_ms": self.prefill_seconds * 1e3,
            "decode_ms_per_token": self.decode_seconds * 1e3,
        }


def _rates(model: ModelConfig, m: float, l: int) -> dict[str, float]:
    d, f = model.hidden, model.ffn
    gated = model.ffn_matrices - 1  # f1 carries gate and up projections for SwiGLU
    return {
        "q": m,
        "k": m,
        "v": m,
        "p": m,
        "a1": m * l / d,
        "a2": m * l / d,
        "f1": m * f / d * gated,
        "f2": m * f / d,
    }


def _channels_needed(
    model: ModelConfig,
    rates: dict[str, float],
    platform: Platform,
    weight_bits: int,
    clock_mhz: float,
    streamed: bool,
) -> dict[str, int]:
    if not streamed:
        return {}
    kind = "HBM" if platform.hbm is not None else "DDR"
    bw = platform.channel_read_bw_gbps(kind) * 1e9
    out = {}
    for i in weight_elements(model):
        demand = weight_bits * rates[i] / PACK_TOKENS * clock_mhz * 1e6 / 8
        out[i] = max(1, ceil(demand / bw))
    return out


def _evaluate(
    model: ModelConfig, platform: Platform, m: float, l: int, c: int, clock_mhz: float
) -> tuple[list[Check], bool, dict[str, int], dict[str, float]]:
    wb, ab = W4A8_BITS
    rates = _rates(model, m, l)
    elements = weight_elements(model)
    probe = OperatorRates(rates, dict.fromkeys(rates, PACK_TOKENS), elements, {})
    mem, on_chip = onchip_check(model, probe, c, platform, wb, ab, l, l)
    channels = _channels_needed(model, rates, platform, wb, clock_mhz, not on_chip)
    op = OperatorRates(rates, dict.fromkeys(rates, PACK_TOKENS), elements, channels)
    checks = [compute_check(op, c, platform, MACS_PER_DSP, clock_mhz), mem]
    if not on_chip:
        mems = platform.memory_channels()
        usable = max(mems.values()) - 1  # one channel carries activations in and out
        checks.append(
            Check(
                "offchip_channels",
                float(sum(channels.values()) * c),
                usable,
                "channels",
                "Eq. 7: channels needed so every operator gets "
                "B_i = b_W x M_i / r_i x freq (one channel kept for activations)",
            )
        )
        checks.append(bandwidth_check(op, platform, wb, clock_mhz))
    return checks, on_chip, channels, rates


def balance(
    model: ModelConfig,
    platform: Platform,
    prompt_len: int,
    clock_mhz: float,
    resident_layers: int = 1,
    step: float = 2 * PACK_TOKENS,
) -> BalanceResult:
    """Linear search for the largest balanced M (Eqs. 10-12) that passes every constraint."""
    if prompt_len < 1:
        raise UserError(f"prompt_len must be positive, got {prompt_len}", field="prompt_len")
    best = None
    m = step
    binding = None
    limit = platform.fabric_macs_per_cycle(MACS_PER_DSP, clock_mhz)
    while m <= limit:
        checks, on_chip, channels, rates = _evaluate(
            model, platform, m, prompt_len, resident_layers, clock_mhz
        )
        failed = [c for c in checks if not c.ok]
        if failed:
            binding = max(failed, key=lambda c: c.utilization)
            break
        best = (m, checks, on_chip, channels, rates)
        m += step
    if best is None:
        raise UserError(
            f"no balanced W4A8 design of {model.name} fits {platform.name} even at "
            f"M = {step:g}: {binding.detail if binding else ''}"
        )
    m, checks, on_chip, channels, rates = best
    n, l, d = model.layers, prompt_len, model.hidden
    c = resident_layers
    prefill = n * (1 + 1 / c) * l * d * d / m / (clock_mhz * 1e6)  # Eq. 11
    # Eq. 9 with the balanced rates: decode streams one token, r_i = 1.
    gated = model.ffn_matrices - 1
    dec_stage = max(
        d * d / rates["k"],
        (l + 1) * d / rates["a1"],
        d * model.ffn * gated / rates["f1"],
        d * model.ffn / rates["f2"],
    )
    decode = n / c * (d * d / rates["k"] + c * dec_stage) / (clock_mhz * 1e6)
    return BalanceResult(
        m=m,
        next_m=m + step,
        rates=rates,
        checks=checks,
        binding=binding,
        weights_on_chip=on_chip,
        channels=channels,
        prefill_seconds=prefill,
        decode_seconds=decode,
        clock_mhz=clock_mhz,
        prompt_len=prompt_len,
        resident_layers=resident_layers,
    )
