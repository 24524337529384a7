"""Turn reports and measurements into observations the fit can predict.

- HLS reports: every instance module whose name maps to a kernel of the design (and the
  report's top, a region) becomes an observation predicted by the isolated cost model;
- HBM microbenchmarks: every quantity the memory model describes becomes an observation
  predicted from the platform's memory parameters; the others are listed as not modelled;
- board runs: ttft_ms, tpot_ms and per-layer times, predicted by simulating the run;
- XRT profiles of a run: each mapped compute unit's calls, time per call and (from a
  device trace) the gap between calls, predicted from the same simulation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialsim.calibration.fit import Observation, Values, apply, apply_design
from spatialsim.calibration.hls_report import HlsReport
from spatialsim.calibration.measurements import BoardRun, HbmMeasurement
from spatialsim.costmodel.design_estimate import kernel_estimates, region_latencies
from spatialsim.costmodel.memory import hbm_channel_rate_gbps
from spatialsim.costmodel.params import CostParams
from spatialsim.design.fileio import load_design
from spatialsim.design.graph import Design
from spatialsim.design.overrides import apply_settings
from spatialsim.design.parallel import shard
from spatialsim.design.resources import check_fit
from spatialsim.design.templates import build_design
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.errors import UserError
from spatialsim.hardware.cluster import Cluster
from spatialsim.hardware.platform import Hbm, Platform, get_platform
from spatialsim.metrics.result import RunResult
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


@dataclass(frozen=True)
class RegionRow:
    """An HLS dataflow region's latency: evidence of the build's structure, predicted by
    simulating the region alone (:mod:`spatialsim.engine.region`), not by the isolated
    kernel estimates."""

    label: str
    phase: str
    region: str
    observed: float


@dataclass
class HlsSet:
    observations: list[Observation]
    skipped: list[str] = field(default_factory=list)
    regions: list[RegionRow] = field(default_factory=list)


def hls_observations(
    reports: list[HlsReport],
    design: Design,
    phase: str,
    seq_len: int,
    cost: CostParams,
    platform: Platform,
    noise: float = 0.001,
) -> HlsSet:
    """Module latencies of ``reports`` against the isolated estimates; region latencies
    (report tops and ``region_N`` rows) are set aside as :class:`RegionRow` for the fit
    that knows the structure."""
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
        if rep.top:
            entries.append((rep.top, {"latency_cycles": rep.latency_cycles}))
        for module, m in entries:
            kernel = module_kernel(module) or (module if module in known else None)
            lat = m.get("latency_cycles")
            if kernel is None or kernel not in known or not lat:
                result.skipped.append(f"{Path(rep.path).name}:{module}")
                continue
            label = f"{Path(rep.path).name}:{module} ({phase} {kernel})"
            if kernel.startswith("region_"):
                result.regions.append(RegionRow(label, phase, kernel, float(lat)))
                continue
            result.observations.append(
                Observation(
                    label=label,
                    source="hls",
                    observed=float(lat),
                    unit="cycles",
                    predict=_picker(estimates, kernel),
                    noise=noise,
                )
            )
    if not result.observations and not result.regions:
        raise UserError(
            "no module of the HLS report(s) maps to a kernel of design "
            f"{design.name}; modules look like 'Linear_layer_qkv_1' or "
            "'Softmax_layer_1'"
        )
    return result


def region_observations(
    rows: list[RegionRow],
    design: Design,
    seq_len: int,
    cost: CostParams,
    platform: Platform,
    settings: tuple[tuple[str, Any], ...] = (),
    noise: float = 0.001,
) -> list[Observation]:
    """Region latencies predicted by simulating each region alone, on ``design`` with the
    structural ``settings`` applied and the fit's values."""
    from spatialsim.engine.region import simulate_region

    built = apply_settings(design, list(settings), every_kind=False) if settings else design
    cache: dict[tuple[Any, ...], float] = {}

    def predictor(row: RegionRow) -> Callable[[Values], float]:
        def predict(values: Values) -> float:
            key = (row.phase, row.region, *sorted(values.items()))
            if key not in cache:
                c, p = apply(values, cost, platform)
                run = simulate_region(
                    apply_design(values, built), p, row.phase, row.region, seq_len, c
                )
                if run is None:
                    raise UserError(f"{row.label}: region {row.region} cannot be simulated alone")
                if len(cache) > 4096:
                    cache.clear()
                cache[key] = run.cycles
            return cache[key]

        return predict

    return [Observation(r.label, "hls", r.observed, "cycles", predictor(r), noise) for r in rows]


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


def hbm_observations(
    measurements: list[HbmMeasurement], platform: Platform, noise: float = 0.02
) -> HbmSet:
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
                noise=noise,
            )
        )
    return out


def checked_design(
    run: BoardRun, platform: Platform, settings: tuple[tuple[str, Any], ...] = ()
) -> Design:
    """The run's design, after the checks ``spatialsim run`` makes of a request: the
    layers and the context fit the model, the design fits the platform, and the clock is a
    fabric clock under the platform's ceiling. Nothing is simulated before they pass."""
    model = get_model(run.model)
    if not 1 <= run.layers <= model.layers:
        raise UserError(f"layers {run.layers} is not in 1 to {model.name}'s {model.layers}")
    seq = run.prompt_len + run.gen_len
    if seq > model.max_positions:
        raise UserError(
            f"prompt_len + gen_len = {seq:,} exceeds {model.name}'s {model.max_positions:,} "
            "positions"
        )
    if run.design.endswith(".toml") or Path(run.design).is_file():
        design = load_design(Path(run.design))
        if design.model.name != model.name:
            raise UserError(
                f"design file {run.design} was built for {design.model.name}, not {model.name}"
            )
        if seq > design.max_seq_len:
            raise UserError(
                f"prompt_len + gen_len = {seq} exceeds the design file's max_seq_len "
                f"{design.max_seq_len}"
            )
    else:
        design = build_design(run.design, model, seq, run.tp)
    design = apply_settings(design, list(settings), every_kind=False) if settings else design
    check_fit(design, platform)
    if run.tp > 1:
        check_fit(shard(design, run.tp), platform)  # what one card holds
    if not 1.0 <= run.clock_mhz <= platform.max_clock_mhz:
        raise UserError(
            f"clock_mhz {run.clock_mhz:g} is not in 1 to {platform.name}'s fabric ceiling of "
            f"{platform.max_clock_mhz:g} MHz"
        )
    return design


@dataclass(frozen=True)
class RunTask:
    """What a worker needs to simulate one measured run at given parameter values: the
    run's design and platform with the values applied, and the run's settings."""

    design: Design
    platform: Platform
    config: RunConfig
    cards: int


def simulate_run(task: RunTask) -> RunResult:
    """Simulate one :class:`RunTask` (a task for an executor)."""
    return simulate(
        task.design, task.platform, task.config, cluster=Cluster(task.platform, task.cards)
    )


class RunPredictor:
    """Simulates one measured run for given parameter values (the last results cached), on
    the run's design with structural ``settings`` applied (``kind.gemv.order=column``...)."""

    def __init__(
        self,
        run: BoardRun,
        cost: CostParams,
        platform: Platform,
        settings: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        where = f"{run.file}: row {run.row}" if run.row else f"{run.file}"
        try:
            self.design = checked_design(run, platform, settings)
        except UserError as exc:
            raise UserError(f"{where}: {exc}") from None
        self.run, self.cost, self.platform = run, cost, platform
        self._cache: dict[tuple[tuple[str, float], ...], RunResult] = {}

    @staticmethod
    def key(values: Values) -> tuple[tuple[str, float], ...]:
        return tuple(sorted(values.items()))

    def task(self, values: Values) -> RunTask:
        r = self.run
        c, p = apply(values, self.cost, self.platform)
        config = RunConfig(
            prompt_len=r.prompt_len,
            gen_len=r.gen_len,
            layers=r.layers,
            clock_mhz=r.clock_mhz,
            params=c,
            tp=r.tp,
            pp=r.pp,
        )
        return RunTask(apply_design(values, self.design), p, config, r.tp * r.pp)

    def cached(self, values: Values) -> bool:
        return self.key(values) in self._cache

    def store(self, values: Values, result: RunResult) -> None:
        if len(self._cache) >= 256:  # the oldest goes: a prefetched batch stays whole
            del self._cache[next(iter(self._cache))]
        self._cache[self.key(values)] = result

    def __call__(self, values: Values) -> RunResult:
        hit = self._cache.get(self.key(values))
        if hit is None:
            hit = simulate_run(self.task(values))
            self.store(values, hit)
        return hit


def prefetch(sims: list[RunPredictor], points: list[Values], executor: Any) -> None:
    """Simulate every run of ``sims`` at every value set of ``points`` not simulated yet,
    together on ``executor``, and keep the results for the predictions to read."""
    todo: dict[tuple[int, tuple[tuple[str, float], ...]], tuple[RunPredictor, Values]] = {}
    for sim in sims:
        for values in points:
            if not sim.cached(values):
                todo.setdefault((id(sim), sim.key(values)), (sim, values))
    if len(todo) < 2:
        return  # nothing to gain: the prediction simulates it where it stands
    jobs = list(todo.values())
    for i, result in executor.map(simulate_run, [sim.task(v) for sim, v in jobs]):
        sim, values = jobs[i]
        sim.store(values, result)


def board_observations(
    runs: list[BoardRun],
    cost: CostParams,
    platforms: dict[str, Platform] | None = None,
    settings: tuple[tuple[str, Any], ...] = (),
    noise: float = 0.01,
) -> list[Observation]:
    """ttft_ms, tpot_ms and layer times of each run, predicted by simulating it."""
    platforms = platforms or {}
    obs = []
    for r in runs:
        platforms.setdefault(r.platform, get_platform(r.platform))
        sim = RunPredictor(r, cost, platforms[r.platform], settings)

        def pick(
            which: str, per_layer: int = 1, sim: RunPredictor = sim
        ) -> Callable[[Values], float]:
            return lambda v: float(getattr(sim(v), which) or 0.0) / per_layer

        for label, measured, which, per in (
            ("ttft", r.ttft_ms, "ttft_ms", 1),
            ("tpot", r.tpot_ms, "tpot_ms", 1),
            ("prefill layer", r.prefill_layer_ms, "ttft_ms", r.layers),
            ("decode layer", r.decode_layer_ms, "tpot_ms", r.layers),
        ):
            if measured is not None:
                obs.append(
                    Observation(
                        f"{r.label} {label}",
                        "board",
                        measured,
                        "ms",
                        pick(which, per),
                        noise,
                        (sim,),
                    )
                )
    return obs


# ---- XRT profiles -------------------------------------------------------------------------


def _targets(design: Design, phase: str, target: str) -> list[str]:
    """The kernels a compute unit stands for: ``region_N`` (the kernels of SLR N-1),
    ``layer`` (all) or one kernel."""
    g = design.bitstreams[design.phases[phase].bitstream]
    if target == "layer":
        return list(g.nodes)
    m = re.fullmatch(r"region_(\d+)", target)
    if m:
        return [n for n, a in g.nodes(data=True) if a["slr"] == int(m.group(1)) - 1]
    return [target] if target in g else []


def _no_target(design: Design, target: str) -> UserError:
    return UserError(
        f"`cu_map` target {target!r} names no kernel of design {design.name}; use "
        "region_1, region_2, region_3, layer or a kernel name"
    )


def _cu_model(sim: RunPredictor, target: str, values: Values) -> tuple[float, float, float]:
    """(calls, mean ms per call, mean ms from one call's end to the next) of a compute unit
    standing for ``target``, in the simulated run: per phase, a call spans the longest
    active time of the target's kernels per launch; with layers looped on chip one call
    covers a step's layers."""
    res = sim(values)
    design, looped = sim.design, sim.design.launch_scope == "step"
    calls = busy = idle = 0.0
    for phase, st in res.phases.items():
        names = _targets(design, phase, target)
        if not names or not st.launches:
            continue
        n = st.launches / (sim.run.layers if looped else 1)
        span = max(st.kernels[k].active_cycles for k in names if k in st.kernels)
        calls += n
        busy += span
        idle += max(st.cycles - span, 0.0)
    if not calls:
        raise _no_target(design, target)
    to_ms = 1.0 / (res.clock_mhz * 1e3)
    return calls, busy / calls * to_ms, idle / calls * to_ms


def xrt_observations(
    profile: Any,
    mapping: dict[str, str],
    run: BoardRun,
    cost: CostParams,
    platform: Platform,
    settings: tuple[tuple[str, Any], ...] = (),
    noise: float = 0.01,
) -> list[Observation]:
    """Per-call durations (and, from a device trace, the gaps between calls) of the mapped
    compute units of an XRT profile of ``run``; each call count is an observation too (a
    launch scheme that calls the CUs a different number of times is ruled out by it)."""
    from spatialsim.calibration.xrt import DeviceTrace

    sim = RunPredictor(run, cost, platform, settings)
    cus = profile.compute_units
    unknown = [cu for cu in mapping if cu not in cus]
    if unknown:
        raise UserError(
            f"{run.file}: `cu_map` {unknown[0]}=...: no compute unit {unknown[0]!r} in the "
            f"profile; compute units: {', '.join(cus)}"
        )
    name = Path(run.file).name
    obs = []
    for cu, target in mapping.items():
        if not any(_targets(sim.design, ph, target) for ph in sim.design.phases):
            raise _no_target(sim.design, target)

        def part(i: int, target: str = target) -> Callable[[Values], float]:
            return lambda v: _cu_model(sim, target, v)[i]

        if isinstance(profile, DeviceTrace):
            t = cus[cu].to_json()
            calls, mean, gap = t["executions"], t["mean_ms"], t["mean_gap_ms"]
        else:
            calls, mean, gap = cus[cu].calls, cus[cu].avg_ms, None
        obs.append(
            Observation(
                f"{name} {cu} calls ({target})", "xrt", calls, "calls", part(0), 1e-3, (sim,)
            )
        )
        obs.append(
            Observation(
                f"{name} {cu} ms per call ({target})", "xrt", mean, "ms", part(1), noise, (sim,)
            )
        )
        if gap:
            obs.append(
                Observation(
                    f"{name} {cu} gap between calls ({target})",
                    "xrt",
                    gap,
                    "ms",
                    part(2),
                    noise,
                    (sim,),
                )
            )
    return obs
