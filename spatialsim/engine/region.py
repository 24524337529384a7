"""One HLS dataflow region simulated in isolation, as Vitis HLS estimates its latency.

A region is the kernels of one SLR (``region_<slr + 1>``), one ``#pragma HLS DATAFLOW``
function in the chen2024 designs. Vitis reports a region's latency for one call of it alone:
its input streams from other regions deliver a word whenever it is read, its output streams
take a word whenever one is written, and every m_axi beat arrives in one cycle
(Chen 2024 W8A8). This module builds that situation and runs the real engine on it:

- the region's kernels and the FIFOs between them, as in the design;
- each FIFO from another region is fed by a stand-in producer of the same name (an m_axi
  loader of the words that producer writes, one per cycle), and each FIFO into another
  region drains into a stand-in writer;
- memory is ideal: every channel's rate exceeds any port's and its latency is zero, so a
  port delivers one beat of its width per cycle;
- one layer, one step, no host costs, no SLR-crossing latency.

What the kernels do with their inputs is the kinds' own behaviour, so a structural choice
shows: a row-order GEMV waits for its whole input vector before the first pass, a
column-order GEMV consumes it as it arrives. That is what makes region latencies evidence
of a build's structure. The latency is the launch's cycles plus the region's dataflow
start/stop overhead (``dataflow_overhead_cycles``, as the isolated estimates add it).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import networkx as nx

from spatialsim.costmodel.params import CostParams
from spatialsim.design.graph import Design, PhaseBinding
from spatialsim.design.kernels import kernel_params
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.hardware.platform import Platform
from spatialsim.metrics.result import RunResult

IDEAL_GBPS = 1e6  # far above any port's width x clock: one beat per cycle


def region_names(design: Design, phase: str) -> list[str]:
    """``region_1``, ... for the SLRs the phase's kernels occupy."""
    g = design.graph(phase)
    return [f"region_{s + 1}" for s in sorted({a["slr"] for _, a in g.nodes(data=True)})]


def _stand_in(words: int, slr: int, reads: bool) -> dict[str, Any]:
    """A loader (``reads``) or writer standing for a kernel of another region: it writes
    (or takes) ``words`` FIFO words per token, one per cycle from ideal memory."""
    node: dict[str, Any] = {
        "kind": "loader" if reads else "writer",
        "slr": slr,
        "ports": ("HBM[0]",),
        "port_bits": 512,
        "lanes": 1,
        "features": words,
    }
    if reads:
        node["quantize"] = False
    return node


def isolate(design: Design, phase: str, region: str) -> Design | None:
    """A design holding only ``region`` of ``phase``'s bitstream, with stand-ins for the
    kernels of other regions it streams with; None when the region has no kernel or a
    stream whose words per token are not fixed."""
    g: nx.DiGraph = design.graph(phase)
    slr = int(region.split("_")[1]) - 1
    inside = [n for n, a in g.nodes(data=True) if a["slr"] == slr]
    if not inside:
        return None
    own = set(inside)
    h = nx.DiGraph()
    for n in inside:
        h.add_node(n, **g.nodes[n])
    for src, dst, a in g.edges(data=True):
        if src in own and dst in own:
            h.add_edge(src, dst, **a)
        elif src in own or dst in own:
            mine, outer = (src, dst) if src in own else (dst, src)
            p, q = kernel_params(mine, g.nodes[mine]), kernel_params(outer, g.nodes[outer])
            if src in own:
                words = p.stream_words_out() or q.stream_words_in()
            else:
                words = p.stream_words_in() or q.stream_words_out()
            if not words:
                return None
            if outer not in h:
                h.add_node(outer, **_stand_in(words, slr, reads=dst in own))
            h.add_edge(src, dst, **a)
    # assigned, not built: a region alone need not be one connected graph (R1's Q, K and V
    # paths share nothing once the other regions are gone), which a whole design must be
    alone = copy.copy(design)
    alone.bitstreams = {"region": h}
    alone.phases = {
        ph: PhaseBinding("region", b.tokens_per_pack) for ph, b in design.phases.items()
    }
    alone.launch_scope = "layer"
    return alone


def ideal_memory(platform: Platform) -> Platform:
    """``platform`` with memory that delivers one beat of every port per cycle."""
    out = platform
    if platform.hbm is not None:
        hbm = dataclasses.replace(
            platform.hbm,
            read_bw_gbps=IDEAL_GBPS,
            write_bw_gbps=IDEAL_GBPS,
            small_burst_bw_gbps=IDEAL_GBPS,
            latency_ns=1e-6,  # a platform's latency must be positive; this is none
            switch_penalty_ns=1e-6,
        )
        out = dataclasses.replace(out, hbm=hbm)
    if platform.ddr is not None:
        ddr = dataclasses.replace(platform.ddr, read_bw_gbps=IDEAL_GBPS, write_bw_gbps=IDEAL_GBPS)
        out = dataclasses.replace(out, ddr=ddr)
    return out


@dataclass(frozen=True)
class RegionRun:
    """One isolated call of a region: its latency (cycles, with the dataflow overhead), the
    simulated launch, and the names standing in for other regions' kernels."""

    region: str
    phase: str
    cycles: float
    result: RunResult
    stand_ins: frozenset[str]

    def bound(self) -> tuple[str, float, str, float] | None:
        """What sets the latency: of the region's kernels with at least half the largest
        one's work, the one that waited longest for input; its busy cycles, and the FIFO it
        waited on longest with those cycles (None when none of them waited)."""
        st = self.result.phases[self.phase]
        busy = {
            n: k.active_cycles * k.fractions["busy"]
            for n, k in st.kernels.items()
            if n not in self.stand_ins
        }
        if not busy:
            return None
        heavy = [n for n, b in busy.items() if b >= 0.5 * max(busy.values())]
        name = max(heavy, key=lambda n: st.kernels[n].active_cycles * st.kernels[n].starved)
        waits = [s for s in st.stalls if s.kernel == name and s.state == "starved"]
        if not waits:
            return None
        worst = max(waits, key=lambda s: s.cycles)
        return name, busy[name], worst.on, worst.cycles


def simulate_region(
    design: Design,
    platform: Platform,
    phase: str,
    region: str,
    seq_len: int,
    params: CostParams | None = None,
) -> RegionRun | None:
    """One call of ``region`` alone, as Vitis defines a dataflow region's latency (see the
    module docstring): prefill of ``seq_len`` tokens, or one decode step against a context
    of ``seq_len`` tokens (at most the design's). None when the region cannot be
    isolated."""
    params = params or CostParams()
    alone = isolate(design, phase, region)
    if alone is None:
        return None
    cost = params.replace(
        launch_overhead_us=0.0,
        wait_overhead_us=0.0,
        token_overhead_us=0.0,
        slr_crossing_cycles=0.0,
        hbm_efficiency=1.0,
    )
    decode = phase == "decode"
    context = min(seq_len, design.max_seq_len - 1) if decode else seq_len
    config = RunConfig(
        prompt_len=context,
        gen_len=1 if decode else 0,
        layers=1,
        clock_mhz=design.clock_mhz,
        params=cost,
        decode_only=decode,
    )
    result = simulate(alone, ideal_memory(platform), config)
    stand_ins = frozenset(alone.kernel_names()) - frozenset(
        n for n, a in design.graph(phase).nodes(data=True) if f"region_{a['slr'] + 1}" == region
    )
    cycles = float(result.phases[phase].cycles) + params.dataflow_overhead_cycles
    return RegionRun(region, phase, cycles, result, stand_ins)


__all__ = [
    "RegionRun",
    "ideal_memory",
    "isolate",
    "region_names",
    "simulate_region",
]
