"""Every reference number the project ships, against the models that predict it.

For each number in ``data/reference.toml``:

- HLS module latencies of the W4A8 GPT-2-medium layer against the isolated cost model
  (``spatialsim kernels``), the simulator (the cycles a kernel spends working or waiting on
  memory in a simulated layer; FIFO stalls, which HLS estimates leave out, are excluded)
  and the analytical model (the paper's stage term, where one exists);
- HLS dataflow region latencies (W4A8 and W8A8) against the region simulated alone
  (:mod:`spatialsim.engine.region`); a row the simulation misses by more than 5 % says
  what the simulated region waited on;
- HBM and DDR microbenchmarks against the memory model (platform parameters), the
  simulator (transfers through the engine's memory channels under the benchmark's setup)
  and the analytical model (the channel rate its T_mem uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spatialsim.analytical.latency import estimate_phase
from spatialsim.calibration.fit import current_values
from spatialsim.costmodel.design_estimate import HLS_ALIASES, kernel_estimates, region_latencies
from spatialsim.costmodel.memory import hbm_channel_rate_gbps
from spatialsim.costmodel.params import CostParams
from spatialsim.design.templates import build_design
from spatialsim.engine.memsys import MemorySystem
from spatialsim.engine.region import RegionRun, simulate_region
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.hardware.platform import Platform, get_platform
from spatialsim.tomlio import builtin_toml
from spatialsim.workload.models import get_model

NOT_MODELLED = {
    "far_channel_page_hit_latency": "the memory model binds each port to its own channel",
    "small_burst_wide_bw": "page misses over a large working set are not modelled",
}


@dataclass(frozen=True)
class Row:
    section: str
    name: str
    unit: str
    reference: float
    model: float | None
    simulator: float | None
    analytical: float | None
    source: str
    note: str = ""

    def errors(self) -> dict[str, float | None]:
        return {
            k: (None if v is None else (v - self.reference) / self.reference)
            for k, v in (
                ("model", self.model),
                ("simulator", self.simulator),
                ("analytical", self.analytical),
            )
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "name": self.name,
            "unit": self.unit,
            "reference": self.reference,
            "model": self.model,
            "simulator": self.simulator,
            "analytical": self.analytical,
            "errors": self.errors(),
            "source": self.source,
            "note": self.note,
        }


def reference_data() -> dict[str, Any]:
    return builtin_toml("spatialsim.calibration", "reference.toml", "reference data")


def hls_rows(ref: dict[str, Any], params: CostParams | None = None) -> list[Row]:
    params = params or CostParams()
    model = get_model(ref["model"])
    seq = int(ref["seq_len"])
    design = build_design(ref["design"], model, seq)
    platform = get_platform("u280")
    est = kernel_estimates(design, "prefill", seq, params)
    cycles = {n: e.cycles for n, e in est.items()}
    cycles.update(region_latencies(design, "prefill", est, params))
    run = simulate(design, platform, RunConfig(prompt_len=seq, layers=1, params=params))
    kernels = run.phases["prefill"].kernels
    own = {
        n: k.active_cycles * (k.fractions["busy"] + k.fractions["hbm_wait"])
        for n, k in kernels.items()
    }
    regions = {
        m["module"]: simulate_region(design, platform, "prefill", m["module"], seq, params)
        for m in ref["modules"]
        if m["module"].startswith("region_")
    }
    eq = estimate_phase(design, platform, "prefill", seq)
    stage = {
        "q_proj": eq.stages["qkv"],
        "k_proj": eq.stages["qkv"],
        "v_proj": eq.stages["qkv"],
        "qk_matmul": eq.stages["qk_matmul"],
        "sv_matmul": eq.stages["sv_matmul"],
        "out_proj": eq.stages["out_proj"],
        "ffn1": eq.stages["ffn1"],
        "ffn2": eq.stages["ffn2"],
        "region_1": eq.sync_cycles,
        "region_3": max(eq.stages["ffn1"], eq.stages["ffn2"]),
    }
    rows = []
    for m in ref["modules"]:
        name = HLS_ALIASES.get(m["module"], m["module"])
        reference = float(m["latency_cycles"])
        region = regions.get(name)
        sim = own.get(name) if region is None else region.cycles
        note = (
            "simulator: cycles busy or waiting on HBM in a simulated layer (FIFO stalls "
            "excluded, as in HLS)"
            if name in own
            else region_note(region, reference)
            if region is not None
            else "the simulator has no separate weight loader"
            if name.startswith("weight_loader")
            else ""
        )
        rows.append(
            Row(
                "hls",
                f"{m['module']} ({name})",
                "cycles",
                reference,
                cycles.get(name),
                sim,
                stage.get(name),
                ref["source"],
                note,
            )
        )
    return rows


W8A8_NOTES = {
    "gelu": "fitted: the GeLU loop's iteration latency of each build is read from this row "
    "(spatialsim/kinds/activation.py); the trips are the loop structure's",
    "softmax": "fitted: the buffered softmax's OUT-loop depth (cost.softmax_out_depth_cycles) "
    "is read from this row (spatialsim/kinds/softmax.py); the loops are the structure's",
}
REGION_SIMULATED = (
    "simulator: the region alone (its kernels and FIFOs, ideal neighbours, one beat per "
    "cycle from memory; spatialsim/engine/region.py)"
)
CONTEXT_UNKNOWN = "; the decode build's context is not stated (compared at the reference's)"


def region_note(run: RegionRun, reference: float) -> str:
    """The footnote of a region row: how it was simulated, and where the simulation misses
    the HLS estimate by more than 5 %, what the simulated region waited on."""
    err = (run.cycles - reference) / reference
    if abs(err) <= 0.05:
        return REGION_SIMULATED
    bound = run.bound()
    if bound is None:
        return f"{REGION_SIMULATED}; {err:+.0%} with no kernel waiting for input"
    kernel, busy, fifo, waited = bound
    return (
        f"{run.phase} {run.region}, {err:+.0%}: in the simulated region {kernel} "
        f"({busy:,.0f} cycles of work) waits {waited:,.0f} cycles on {fifo}, since it needs "
        "its producer's rows before it runs; Vitis's estimate starts every consumer with its "
        "producer (Chen 2024 W8A8), so only a build whose loops allow that overlap (for a "
        "GEMV, column order) reaches it"
    )


def w8a8_rows(
    ref: dict[str, Any], params: CostParams | None = None, settings: Any = ()
) -> list[Row]:
    """The W8A8 builds' HLS estimates (Chen 2024 W8A8) against the isolated cost model,
    and their region latencies against the regions simulated alone (with structural
    ``settings`` applied, ``(("kernel.ffn2.order", "column"),)``)."""
    from spatialsim.design.overrides import apply_settings

    params = params or CostParams()
    model = get_model(ref["model"])
    seqs = {"prefill": int(ref["prefill_seq_len"]), "decode": int(ref["decode_context"])}
    design = build_design(ref["design"], model, max(seqs.values()) + 1)
    design = apply_settings(design, list(settings), every_kind=False)
    platform = get_platform("u280")
    cycles: dict[str, dict[str, float]] = {}
    for phase, seq in seqs.items():
        est = kernel_estimates(design, phase, seq, params)
        cycles[phase] = {n: e.cycles for n, e in est.items()}
        cycles[phase].update(region_latencies(design, phase, est, params))
    rows = []
    for r in ref["rows"]:
        reference = float(r["latency_cycles"])
        sim, note = None, W8A8_NOTES.get(r["kernel"], "")
        if r["kernel"].startswith("region_"):
            phase = r["phase"]
            run = simulate_region(design, platform, phase, r["kernel"], seqs[phase], params)
            if run is not None:
                sim, note = run.cycles, region_note(run, reference)
                if r.get("context_dependent"):
                    note += CONTEXT_UNKNOWN
        rows.append(
            Row(
                "hls_w8a8",
                f"{r['phase']} {r['kernel']}",
                "cycles",
                reference,
                cycles[r["phase"]].get(r["kernel"]),
                sim,
                None,
                ref["source"],
                note,
            )
        )
    return rows


def memory_rows(entries: list[dict[str, Any]], platform: Platform) -> list[Row]:
    hbm, ddr = platform.hbm, platform.ddr
    assert hbm is not None and ddr is not None
    values = current_values(CostParams(), platform)
    axi_ns = 1e3 / hbm.axi_clock_mhz
    rows = []
    for e in entries:
        q, ref = e["quantity"], float(e["value"])
        model = sim = ana = None
        note = ""
        if q == "pc_seq_read_bw":
            model = values["hbm.read_bw_gbps"]
            sim = _stream_rate(platform, ["HBM[3]"], 4 * 2**20, 2**16, 300.0, False)
            ana = platform.channel_read_bw_gbps("HBM")
        elif q == "all_pc_read_bw":
            model = hbm.channels * values["hbm.read_bw_gbps"]
            sim = _stream_rate(
                platform, [f"HBM[{i}]" for i in range(hbm.channels)], 4 * 2**20, 2**16, 300.0, False
            )
            note = "channels modelled as independent"
        elif q == "all_pc_write_bw":
            model = hbm.channels * values["hbm.write_bw_gbps"]
            sim = _stream_rate(
                platform, [f"HBM[{i}]" for i in range(hbm.channels)], 4 * 2**20, 2**16, 300.0, True
            )
        elif q == "read_latency_page_hit":
            model = values["hbm.latency_ns"] / axi_ns
            sim = _idle_latency_ns(platform) / axi_ns
            note = "simulated designs reach HBM through the switch (+7 cycles)"
        elif q == "switch_latency_penalty":
            model = values["hbm.switch_penalty_ns"] / axi_ns
        elif q == "small_burst_local_bw":
            model = hbm_channel_rate_gbps(hbm, 32)
            sim = _stream_rate(platform, ["HBM[3]"], 32 * 4096, 32, 450.0, False, extent=32)
        elif q == "ddr4_channel_read_bw":
            model = values["ddr.read_bw_gbps"]
            sim = _stream_rate(platform, ["DDR[0]"], 4 * 2**20, 2**16, 300.0, False)
            ana = platform.channel_read_bw_gbps("DDR")
        elif q == "ddr4_channel_write_bw":
            model = values["ddr.write_bw_gbps"]
            sim = _stream_rate(platform, ["DDR[0]"], 4 * 2**20, 2**16, 300.0, True)
        else:
            note = NOT_MODELLED.get(q, "not modelled")
        rows.append(
            Row("memory", q, e["unit"], ref, model, sim, ana, f"{e['source']}: {e['setup']}", note)
        )
    return rows


def _stream_rate(
    platform: Platform,
    ports: list[str],
    nbytes: int,
    request_bytes: int,
    clock_mhz: float,
    write: bool,
    extent: int | None = None,
) -> float:
    """GB/s the engine's channels deliver to one master per port (512 bits at
    ``clock_mhz``) moving ``nbytes`` each in back-to-back requests of ``request_bytes``;
    ``extent`` is the consecutive run the channel's rate depends on (default: all of it)."""
    mem = MemorySystem(platform, clock_mhz, CostParams())
    done = 0.0
    for port in ports:
        stream = mem.open((port,), 512, 0, extent or nbytes, write, 0.0, run_ahead=False)
        for _ in range(nbytes // request_bytes):
            done = max(done, stream.request(0.0, request_bytes))
    seconds = done / (clock_mhz * 1e6)
    return len(ports) * nbytes / seconds / 1e9


def _idle_latency_ns(platform: Platform) -> float:
    """Time for one 64-byte read on an idle channel, less its transfer time."""
    mem = MemorySystem(platform, 450.0, CostParams())
    stream = mem.open(("HBM[3]",), 512, 0, 64, False, 0.0, run_ahead=False)
    ready = stream.request(0.0, 64)
    return (ready - 64 / stream.rates[0]) / 450.0 * 1e3


# What each resource row rests on. The per-kernel coefficients (spatialsim/kinds/*.py,
# Coeffs) were fitted to these region reports, so the HLS rows are in sample; the routed
# DSPs were not used.
RESOURCE_NOTES = {
    "fitted": "fitted: the per-kernel coefficients were fitted to these region reports "
    "(spatialsim/kinds/*.py, Coeffs); in sample",
    "bram": "fitted, and still short: the estimate counts the FIFOs' and the writers' BRAM; "
    "what else region 3's report maps to BRAM is not modelled",
    "routed": "predicted: the routed artifact's DSPs (Chen 2024 3.4), never fitted to; "
    "implementation removes DSPs the HLS estimate counts",
}
RESOURCE_KEYS = (("dsp", "DSP"), ("lut", "LUT"), ("ff", "FF"), ("bram36", "BRAM36"),
                 ("uram", "URAM"))  # fmt: skip


def resource_rows(ref: dict[str, Any]) -> list[Row]:
    """Each region's estimated resources against its HLS report (in sample) and the routed
    DSPs (out of sample)."""
    from spatialsim.design.resources import estimate

    design = build_design(ref["design"], get_model(ref["model"]), int(ref["seq_len"]))
    slrs = estimate(design, design.phases["prefill"].bitstream).slrs
    rows = []
    for r in ref["regions"]:
        n = int(r["region"])
        mine = slrs[n - 1]
        hls = {**r, "bram36": r["bram18"] / 2}
        for key, label in RESOURCE_KEYS:
            if key == "bram36" and hls[key] == 0:
                continue  # nothing to compare a relative error with
            note = RESOURCE_NOTES["bram" if key == "bram36" and n == 3 else "fitted"]
            rows.append(Row("resources", f"R{n} {label}", label, float(hls[key]),
                            mine[key], None, None, ref["source"], note))  # fmt: skip
        routed = float(r["routed_dsp"])
        note = RESOURCE_NOTES["routed"]
        rows.append(Row("resources", f"R{n} DSP routed", "DSP", routed, mine["dsp"], None,
                        None, ref["source"], note))  # fmt: skip
    return rows


def validation_rows() -> list[Row]:
    ref = reference_data()
    return (
        hls_rows(ref["hls"])
        + w8a8_rows(ref["hls_w8a8"])
        + resource_rows(ref["resources"])
        + memory_rows(ref["memory"], get_platform("u280"))
    )
