"""Resource estimation of a design and the check that it fits its platform.

Per-kernel costs come from each kernel kind (``spatialsim/kinds/``): linear in the kernel's
parallelism, ``per_pe`` times its MAC lanes (PEs of an array or GEMV engine), ``per_lane``
times its token lanes, plus a fixed part. The coefficients were fitted to the instance
tables of the Vitis HLS reports of the chen2024 W4A8 GPT-2-medium layer
(``vitis_reports/chen2024_w4a8_gpt2m/region_*_csynth.rpt``, 8 lanes, 8x16 linears, 8x8
attention arrays); ``tests/test_resources.py`` shows estimate and report side by side.
FIFOs and AXI masters are costed from their sizes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from math import ceil
from typing import Any

from spatialsim.design.graph import Design
from spatialsim.design.kernels import PORT_RE
from spatialsim.errors import UserError
from spatialsim.hardware.platform import Platform
from spatialsim.kinds import kind
from spatialsim.kinds.base import RESOURCES as RESOURCES

URAM_WIDTH_BITS = 72  # UltraRAM is 4K x 72 (AMD UG573)
URAM_DEPTH = 4096
BRAM36_WIDTH_BITS = 72  # widest BRAM36 port, 512 x 72 (AMD UG573)
BRAM36_DEPTH = 512
SRL_MAX_BITS = 16384  # FIFOs up to this many bits become shift registers / LUTRAM
SRL_LUT_PER_32_BITS = 1  # one SRL32 LUT per bit column per 32 entries (AMD UG574)
URAM_MIN_BITS = 147456  # above half a URAM, Vitis maps deep FIFOs to URAM (seen in region_3)
M_AXI_LUT = 8001  # one m_axi adapter (gmem*_m_axi rows of every region report)
M_AXI_FF = 4567
REGION_CONTROL_LUT = 466  # control_s_axi, mean of the three region reports
REGION_CONTROL_FF = 269


def uram_blocks(width_bits: int, depth: int) -> int:
    return ceil(width_bits / URAM_WIDTH_BITS) * ceil(depth / URAM_DEPTH)


def bram36_blocks(width_bits: int, depth: int) -> int:
    return ceil(width_bits / BRAM36_WIDTH_BITS) * ceil(depth / BRAM36_DEPTH)


def kernel_resources(attrs: dict[str, Any]) -> dict[str, float]:
    """Estimated resources of one kernel, its KV buffer and its AXI masters."""
    spec = kind(attrs["kind"])
    out = spec.resources(spec.partial("?", attrs))
    ports = len(attrs.get("ports", ()))
    out["lut"] += M_AXI_LUT * ports
    out["ff"] += M_AXI_FF * ports
    return {r: ceil(v) if r != "bram36" else v for r, v in out.items()}


def fifo_resources(depth_words: int, width_bits: int) -> dict[str, float]:
    """FIFO storage: shift registers when small, URAM when deep and wide, else BRAM."""
    bits = depth_words * width_bits
    out = dict.fromkeys(RESOURCES, 0.0)
    if bits <= SRL_MAX_BITS:
        out["lut"] = width_bits * ceil(depth_words / 32) * SRL_LUT_PER_32_BITS
        out["ff"] = width_bits + 8  # output register and counters
    elif bits >= URAM_MIN_BITS:
        out["uram"] = uram_blocks(width_bits, depth_words)
    else:
        out["bram36"] = bram36_blocks(width_bits, depth_words)
    return out


@dataclass(frozen=True)
class ResourceReport:
    """Estimated use per kernel, per SLR and per device, for one bitstream."""

    bitstream: str
    kernels: dict[str, dict[str, float]]
    fifos: dict[str, dict[str, float]]
    slrs: dict[int, dict[str, float]]
    total: dict[str, float]


def estimate(design: Design, bitstream: str) -> ResourceReport:
    """Estimate the resources of one bitstream of ``design``."""
    g = design.bitstreams[bitstream]
    kernels = {n: kernel_resources(a) for n, a in g.nodes(data=True)}
    _share_engine_groups(g, kernels)
    _share_axi_masters(g, kernels)
    fifos = {
        a["name"]: fifo_resources(a["depth_words"], a["width_bits"])
        for _, _, a in g.edges(data=True)
    }
    slrs: dict[int, dict[str, float]] = defaultdict(lambda: dict.fromkeys(RESOURCES, 0.0))
    for n, res in kernels.items():
        for r, v in res.items():
            slrs[g.nodes[n]["slr"]][r] += v
    for _, dst, a in g.edges(data=True):
        for r, v in fifos[a["name"]].items():
            slrs[g.nodes[dst]["slr"]][r] += v
    for slr in list(slrs):  # one region kernel (control interface) per occupied SLR
        slrs[slr]["lut"] += REGION_CONTROL_LUT
        slrs[slr]["ff"] += REGION_CONTROL_FF
    total = {r: sum(s[r] for s in slrs.values()) for r in RESOURCES}
    return ResourceReport(bitstream, kernels, fifos, dict(sorted(slrs.items())), total)


def _share_engine_groups(g: Any, kernels: dict[str, dict[str, float]]) -> None:
    """Kernels of one engine group are one set of engines used in turn: the group costs
    what its largest member costs (by DSPs), counted on that member; the others add none."""
    groups: dict[str, list[str]] = defaultdict(list)
    for n, a in g.nodes(data=True):
        if a.get("engine_group"):
            groups[a["engine_group"]].append(n)
    for members in groups.values():
        keep = max(members, key=lambda n: (kernels[n]["dsp"], kernels[n]["lut"]))
        for n in members:
            if n != keep:
                kernels[n] = dict.fromkeys(kernels[n], 0.0)


def _share_axi_masters(g: Any, kernels: dict[str, dict[str, float]]) -> None:
    """A port bound by several kernels of one AXI group (``axi_group``, or a GEMV's
    ``engine_group``) costs one m_axi adapter, counted on the first kernel that binds it."""
    seen: dict[str, set[str]] = defaultdict(set)
    for n, a in g.nodes(data=True):
        group = a.get("axi_group") or a.get("engine_group")
        if not group:
            continue
        if all(v == 0 for v in kernels[n].values()):  # a shared engine set's other member
            seen[group].update(a.get("ports", ()))
            continue
        for port in a.get("ports", ()):
            if port in seen[group]:
                kernels[n]["lut"] -= M_AXI_LUT
                kernels[n]["ff"] -= M_AXI_FF
            seen[group].add(port)


def check_fit(design: Design, platform: Platform) -> list[ResourceReport]:
    """Estimate every bitstream and refuse one that does not fit or binds a missing port.

    Raises :class:`UserError` naming the resource, the demand and the capacity.
    """
    channels = platform.memory_channels()
    reports = []
    for bname, g in design.bitstreams.items():
        for node, attrs in g.nodes(data=True):
            if attrs["slr"] >= len(platform.slrs):
                raise UserError(
                    f"design {design.name}: kernel {node} is placed in SLR{attrs['slr']}, but "
                    f"platform {platform.name} has {len(platform.slrs)} SLR(s) "
                    f"(SLR0..SLR{len(platform.slrs) - 1})"
                )
            for port in attrs.get("ports", ()):
                m = PORT_RE.match(port)
                assert m is not None  # validated when the design was built
                kind, index = m.group(1), int(m.group(2))
                if kind not in channels:
                    raise UserError(
                        f"design {design.name}: kernel {node} binds {port}, but platform "
                        f"{platform.name} has no {kind} (memories: "
                        f"{', '.join(f'{k}[0..{v - 1}]' for k, v in channels.items())})"
                    )
                if index >= channels[kind]:
                    raise UserError(
                        f"design {design.name}: kernel {node} binds {port}, but platform "
                        f"{platform.name} has {channels[kind]} {kind} channels "
                        f"({kind}[0]..{kind}[{channels[kind] - 1}])"
                    )
        rep = estimate(design, bname)
        for slr, used in rep.slrs.items():
            cap = platform.slrs[slr]
            for r in RESOURCES:
                if used[r] > getattr(cap, r):
                    raise UserError(
                        f"design {design.name} (bitstream {bname}) does not fit {cap.name} of "
                        f"{platform.name}: {r.upper()} demand {used[r]:,.0f} > capacity "
                        f"{getattr(cap, r):,}; largest users: "
                        f"{_largest(rep, g, slr, r)}"
                    )
        for r in RESOURCES:
            cap_total = platform.total(r) - getattr(platform.reserved, r)
            if rep.total[r] > cap_total:
                raise UserError(
                    f"design {design.name} (bitstream {bname}) does not fit {platform.name}: "
                    f"{r.upper()} demand {rep.total[r]:,.0f} > capacity {cap_total:,} "
                    f"(device less the shell)"
                )
        reports.append(rep)
    return reports


def _largest(rep: ResourceReport, g: Any, slr: int, r: str) -> str:
    users = [(v[r], n) for n, v in rep.kernels.items() if g.nodes[n]["slr"] == slr]
    users += [
        (v[r], f"fifo {n}")
        for n, v in rep.fifos.items()
        if g.nodes[next(d for _, d, a in g.edges(data=True) if a["name"] == n)]["slr"] == slr
    ]
    top = sorted(users, reverse=True)[:3]
    return ", ".join(f"{n} {v:,.0f}" for v, n in top if v > 0)
