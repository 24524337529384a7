"""Turn reports and measurements into observations the fit can predict.

- HLS reports: every instance module whose name maps to a kernel of the design (and the
  report's top, a region) becomes an observation predicted by the isolated cost model;
- HBM microbenchmarks: every quantity the memory model describes becomes an observation
  predicted from the platform's memory parameters; the others are listed as not modelled;
- board runs: ttft_ms, tpot_ms and per-layer times, predicted by simulating the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spatialsim.calibration.fit import Observation, Values, apply, apply_design
from spatialsim.calibration.hls_report import HlsReport
from spatialsim.calibration.measurements import BoardRun, HbmMeasurement
from spatialsim.costmodel.design_estimate import kernel_estimates, region_latencies
from spatialsim.costmodel.memory import hbm_channel_rate_gbps
from spatialsim.costmodel.params import CostParams
from spatialsim.design.graph import Design
from spatialsim.design.templates import build_design
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.errors import UserError
from spatialsim.hardware.platform import Hbm, Platform, get_platform
from spatialsim.workload.models import get_model

# HLS module names (numbered suffixes removed) of the chen2024 artifact -> our kernels.
MODULE_KERNELS = {
    "Linear_layer_qkv": "q_proj",
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
    "input_loader": "input_loader",
    "input_loader_q": "input_loader_q",
    "input_loader_kv": "input_loader_kv",
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
}
REGION_TOP = re.compile(r"_dataflow_region_(\d+)$")


def _picker(
    estimates: Callable[[Values], dict[str, float]], kernel: str
) -> Callable[[Values], float]:
    return lambda v: estimates(v)[kernel]


def module_kernel(module: str) -> str | None:
    """Our kernel for an HLS module name: ``Linear_layer_qkv_74_1`` -> ``q_proj``;
    ``Bert_layer_dataflow_region_2`` -> ``region_2``; None if unknown."""
    m = REGION_TOP.search(module)
    if m:
        return f"region_{m.group(1)}"
    name = module
    while True:
        if name in MODULE_KERNELS:
            return MODULE_KERNELS[name]
        stripped = re.sub(r"_\d+$", "", name)
        if stripped == name:
            return None
        name = stripped


@dataclass
class HlsSet:
    observations: list[Observation]
    skipped: list[str] = field(default_factory=list)


def hls_observations(
    reports: list[HlsReport],
    design: Design,
    phase: str,
    seq_len: int,
    cost: CostParams,
    platform: Platform,
) -> HlsSet:
    """Module and region latencies of ``reports`` against the isolated estimates."""
    cache: dict[tuple[tuple[str, float], ...], dict[str, float]] = {}

    def estimates(values: Values) -> dict[str, float]:
        key = tuple(sorted(values.items()))
        if key not in cache:
            c, _ = apply({k: v for k, v in values.items() if k.startswith("cost.")}, cost, platform)
            d = apply_design(values, design)
            est = kernel_estimates(d, phase, seq_len, c)
            out = {n: e.cycles for n, e in est.items()}
            out.update(region_latencies(d, phase, est, c))
            cache.clear()
            cache[key] = out
        return cache[key]

    result = HlsSet([])
    known = set(estimates({}))
    for rep in reports:
        entries = list(rep.modules.items())
        entries.append((rep.top, {"latency_cycles": rep.latency_cycles}))
        for module, m in entries:
            kernel = module_kernel(module)
            lat = m.get("latency_cycles")
            if kernel is None or kernel not in known or not lat:
                result.skipped.append(f"{Path(rep.path).name}:{module}")
                continue
            result.observations.append(
                Observation(
                    label=f"{Path(rep.path).name}:{module} ({kernel})",
                    source="hls",
                    observed=float(lat),
                    unit="cycles",
                    predict=_picker(estimates, kernel),
                )
            )
    if not result.observations:
        raise UserError(
            "no module of the HLS report(s) maps to a kernel of design "
            f"{design.name}; modules look like 'Linear_layer_qkv_1' or "
            "'Softmax_layer_1'"
        )
    return result


# quantity -> (parameter or model quantity, converting the measurement's unit)
def _hbm_predictor(
    m: HbmMeasurement, platform: Platform
) -> tuple[str, Callable[[Values], float]] | None:
    hbm = platform.hbm
    if hbm is None:
        return None
    cycles_ns = 1e3 / hbm.axi_clock_mhz  # ns per cycle of the 450 MHz AXI clock
    q = m.quantity
    if q == "pc_seq_read_bw":
        return "GB/s", lambda v: v["hbm.read_bw_gbps"]
    if q == "all_pc_read_bw":
        return "GB/s", lambda v: hbm.channels * v["hbm.read_bw_gbps"]
    if q == "all_pc_write_bw":
        return "GB/s", lambda v: hbm.channels * v["hbm.write_bw_gbps"]
    if q == "read_latency_page_hit":
        return "cycles@450MHz", lambda v: v["hbm.latency_ns"] / cycles_ns
    if q == "switch_latency_penalty":
        return "cycles@450MHz", lambda v: v["hbm.switch_penalty_ns"] / cycles_ns
    if q == "small_burst_local_bw":
        return "GB/s", lambda v: hbm_channel_rate_gbps(
            _hbm_with(platform, v), hbm.small_burst_bytes
        )
    if q == "ddr4_channel_read_bw" and platform.ddr is not None:
        return "GB/s", lambda v: v["ddr.read_bw_gbps"]
    if q == "ddr4_channel_write_bw" and platform.ddr is not None:
        return "GB/s", lambda v: v["ddr.write_bw_gbps"]
    return None


def _hbm_with(platform: Platform, values: Values) -> Hbm:
    _, p = apply({k: v for k, v in values.items() if k.startswith("hbm.")}, CostParams(), platform)
    assert p.hbm is not None
    return p.hbm


@dataclass
class HbmSet:
    observations: list[Observation]
    not_modelled: list[str] = field(default_factory=list)


def hbm_observations(measurements: list[HbmMeasurement], platform: Platform) -> HbmSet:
    out = HbmSet([])
    for m in measurements:
        pred = _hbm_predictor(m, platform)
        if pred is None or m.kind != "measured":
            out.not_modelled.append(f"{m.quantity} ({m.kind}: {m.conditions})")
            continue
        unit, fn = pred
        if unit != m.unit:
            raise UserError(f"HBM CSV: {m.quantity} is in {m.unit!r}; expected {unit!r}")
        out.observations.append(
            Observation(
                label=f"{m.quantity} ({m.source})",
                source="hbm",
                observed=m.value,
                unit=m.unit,
                predict=fn,
            )
        )
    return out


def board_observations(
    runs: list[BoardRun], cost: CostParams, platforms: dict[str, Platform] | None = None
) -> list[Observation]:
    """ttft_ms, tpot_ms and layer times of each run, predicted by simulating it."""
    platforms = platforms or {}
    cache: dict[tuple[int, tuple[tuple[str, float], ...]], tuple[float, float | None]] = {}
    designs: dict[int, Design] = {}
    for i, r in enumerate(runs):
        model = get_model(r.model)
        if r.layers > model.layers:
            raise UserError(
                f"{r.file}: row {r.row}: layers {r.layers} exceeds {model.name}'s {model.layers}"
            )
        designs[i] = build_design(r.design, model, r.prompt_len + r.gen_len)
        platforms.setdefault(r.platform, get_platform(r.platform))

    def simulated(i: int, values: Values) -> tuple[float, float | None]:
        key = (i, tuple(sorted(values.items())))
        if key not in cache:
            r = runs[i]
            c, p = apply(values, cost, platforms[r.platform])
            res = simulate(
                apply_design(values, designs[i]),
                p,
                RunConfig(
                    prompt_len=r.prompt_len,
                    gen_len=r.gen_len,
                    layers=r.layers,
                    clock_mhz=r.clock_mhz,
                    params=c,
                ),
            )
            cache[key] = (res.ttft_ms, res.tpot_ms)
        return cache[key]

    def pick(i: int, which: int, per_layer: int = 1) -> Callable[[Values], float]:
        return lambda v: float(simulated(i, v)[which] or 0.0) / per_layer

    obs = []
    for i, r in enumerate(runs):
        if r.ttft_ms is not None:
            obs.append(Observation(f"{r.label} ttft", "board", r.ttft_ms, "ms", pick(i, 0)))
        if r.tpot_ms is not None:
            obs.append(Observation(f"{r.label} tpot", "board", r.tpot_ms, "ms", pick(i, 1)))
        if r.prefill_layer_ms is not None:
            obs.append(
                Observation(
                    f"{r.label} prefill layer",
                    "board",
                    r.prefill_layer_ms,
                    "ms",
                    pick(i, 0, r.layers),
                )
            )
        if r.decode_layer_ms is not None:
            obs.append(
                Observation(
                    f"{r.label} decode layer",
                    "board",
                    r.decode_layer_ms,
                    "ms",
                    pick(i, 1, r.layers),
                )
            )
    return obs
