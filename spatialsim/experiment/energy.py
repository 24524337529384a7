"""Energy of a simulated run from the power model (:mod:`spatialsim.costmodel.power`).

Per card: static power over the whole run; each kernel's dynamic power (its estimated
resources x the per-resource coefficients x the clock) over the cycles it was busy; the
bytes its HBM channels moved; and the bytes its outgoing links carried. Prefill energy is
everything spent during prefill; decode energy per token is the decode phase's over the
generated tokens. Reconfiguration time is left out, as it is of TTFT and TPOT.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from spatialsim.costmodel.power import SOURCES, PowerParams
from spatialsim.design.graph import Design
from spatialsim.design.resources import kernel_resources
from spatialsim.metrics.result import RunResult

PARTS = ("static", "compute", "hbm", "links")
_LINK = re.compile(r"(?:link|pcie)(?:(\d+)->(?:\d+|host)|_host->(\d+))")


@dataclass(frozen=True)
class Energy:
    """Joules by phase and by part (static, compute, hbm, links), and per card."""

    phases: dict[str, dict[str, float]]
    cards: dict[int, float]
    prompt_len: int
    gen_len: int

    @property
    def total_j(self) -> float:
        return sum(sum(p.values()) for p in self.phases.values())

    @property
    def prefill_j(self) -> float:
        return sum(self.phases.get("prefill", {}).values())

    @property
    def decode_j_per_token(self) -> float | None:
        if not self.gen_len:
            return None
        return sum(self.phases.get("decode", {}).values()) / self.gen_len

    def to_json(self, seconds: float) -> dict[str, Any]:
        return {
            "total_j": self.total_j,
            "prefill_j": self.prefill_j,
            "prefill_mj_per_prompt_token": self.prefill_j * 1e3 / self.prompt_len,
            "decode_j_per_token": self.decode_j_per_token,
            "average_w": self.total_j / seconds if seconds > 0 else 0.0,
            "by_part_j": {
                part: sum(p.get(part, 0.0) for p in self.phases.values()) for part in PARTS
            },
            "by_phase_j": self.phases,
            "by_card_j": {str(k): v for k, v in self.cards.items()},
            "coefficients": "spatialsim/costmodel/power.py (sources and assumptions there)",
        }


def _card_of(name: str, devices: int) -> tuple[int, str]:
    if devices == 1:
        return 0, name
    head, _, rest = name.partition(".")
    return int(head.removeprefix("dev")), rest


def _link_card(name: str) -> int:
    """The card that drives link ``name`` (``link2->3``: 2; ``pcie_host->1``: 1)."""
    m = _LINK.fullmatch(name)
    if m is None:
        raise ValueError(f"not a link name: {name}")
    return int(m.group(1) if m.group(1) is not None else m.group(2))


def run_energy(result: RunResult, card_design: Design, power: PowerParams) -> Energy:
    """The energy of ``result``; ``card_design`` is what one card runs (the design, or its
    tensor-parallel share)."""
    devices = result.devices
    clock = result.clock_mhz
    phases: dict[str, dict[str, float]] = {}
    cards = dict.fromkeys(range(devices), 0.0)
    resources: dict[tuple[str, str], dict[str, float]] = {}
    for phase, stats in result.phases.items():
        g = card_design.graph(phase)
        seconds = stats.cycles / clock / 1e6
        part = dict.fromkeys(PARTS, 0.0)
        part["static"] = power.static_w * devices * seconds
        for dev in cards:
            cards[dev] += power.static_w * seconds
        for name, k in stats.kernels.items():
            dev, kernel = _card_of(name, devices)
            key = (phase, kernel)
            if kernel not in g:  # joins cards (a stream receiver): a few LUTs, no datapath
                continue
            if key not in resources:
                resources[key] = kernel_resources(dict(g.nodes[kernel]))
            busy_s = k.active_cycles * k.busy / clock / 1e6
            joules = power.dynamic_w(resources[key], clock) * busy_s
            part["compute"] += joules
            cards[dev] += joules
        for name, ch in stats.hbm.items():
            dev, channel = _card_of(name, devices)
            if channel.startswith(("HBM", "DDR")):
                joules = ch.bytes * 8 * power.hbm_pj_per_bit * 1e-12
                part["hbm"] += joules
                cards[dev] += joules
        for name, ch in stats.links.items():
            joules = ch.bytes * 8 * power.link_pj_per_bit * 1e-12
            part["links"] += joules
            cards[_link_card(name)] += joules
        phases[phase] = part
    return Energy(phases, cards, result.prompt_len, result.gen_len)


__all__ = ["SOURCES", "Energy", "run_energy"]
