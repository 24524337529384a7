"""Run a request: resolve its names, simulate or analyse, and assemble the report.

This is the one place where a :class:`~spatialsim.experiment.request.RunRequest` becomes a
model, a platform and a design (templates or files, overrides applied, resources checked,
clock within the fabric's ceiling), where a calibration profile is applied, and where a
simulation's result is joined with the analytical model, the footprint warnings and the
propagated uncertainty. Every command of the CLI and every notebook or sweep goes through
it. Nothing here prints, exits or knows about command-line flags.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatialsim import defaults
from spatialsim.analytical.design_checks import design_checks
from spatialsim.analytical.latency import Parallelism, estimate_phase
from spatialsim.costmodel.design_estimate import HLS_ALIASES, estimates_json
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.power import PowerParams
from spatialsim.design.fileio import load_design
from spatialsim.design.footprint import check_capacity, footprint_warnings
from spatialsim.design.graph import Design
from spatialsim.design.overrides import apply_settings
from spatialsim.design.parallel import shard
from spatialsim.design.resources import check_fit
from spatialsim.design.templates import DESIGNS, build_design
from spatialsim.engine.kernels import Granularity
from spatialsim.engine.simulator import RunConfig
from spatialsim.engine.simulator import simulate as run_engine
from spatialsim.errors import UserError
from spatialsim.experiment.energy import run_energy
from spatialsim.experiment.reports import AnalysisReport, KernelsReport, ReplayReport, RunReport
from spatialsim.experiment.request import DEFAULT_MODEL, RunRequest, request
from spatialsim.hardware.cluster import Cluster
from spatialsim.hardware.platform import Platform, get_platform
from spatialsim.limits import MAX_REQUESTS, MAX_SAMPLES, check_count, check_progress
from spatialsim.metrics.result import RunResult
from spatialsim.tomlio import as_path
from spatialsim.workload.models import ModelConfig, get_model
from spatialsim.workload.traces import MAX_TOKENS, OVERLONG, Trace, load_trace

if TYPE_CHECKING:
    from spatialsim.calibration.profile import Profile

Progress = Callable[[int, int, str], None]


def resolve_design(req: RunRequest, seq_len: int) -> tuple[ModelConfig, Platform, Design]:
    """The request's model, platform and design (template or file, overrides applied),
    checked to hold ``seq_len`` tokens."""
    platform = get_platform(req.platform)
    spec = req.design
    if spec in DESIGNS:
        model = get_model(req.model or DEFAULT_MODEL)
        design = build_design(spec, model, req.max_seq_len or seq_len, req.tp)
    elif spec.endswith(".toml") or Path(spec).exists():
        if not Path(spec).exists():
            raise UserError(f"design file {spec!r} does not exist", field="design")
        design = load_design(Path(spec))
        model = design.model
        if req.model is not None and req.model != model.name:
            raise UserError(
                f"model {req.model} does not match design file {spec}, which "
                f"was built for {model.name}",
                field="model",
            )
    else:
        raise UserError(
            f"unknown design {spec!r}; valid: {', '.join(DESIGNS)} "
            "(or a path to a design .toml file)",
            field="design",
        )
    design = apply_settings(design, req.set).freeze()
    if seq_len > design.max_seq_len:
        raise UserError(
            f"sequence length {seq_len} exceeds the design's max_seq_len "
            f"{design.max_seq_len}; rebuild with max_seq_len {seq_len}",
            field="max_seq_len",
        )
    if seq_len > model.max_positions:
        raise UserError(
            f"sequence length {seq_len} exceeds {model.name}'s context of "
            f"{model.max_positions} positions",
            field="prompt_len",
        )
    return model, platform, design


@dataclass(frozen=True)
class Prepared:
    """A request resolved for simulation: everything the engine needs, calibrated."""

    model: ModelConfig
    design: Design
    platform: Platform  # with the calibration profile applied
    raw_platform: Platform  # as named by the request
    params: CostParams  # profile values, then the request's own constants
    clock_mhz: float
    profile: Profile | None


def _checked_clock(req: RunRequest, design: Design, platform: Platform) -> float:
    """The run's clock, once the design is known to fit the platform at it."""
    check_fit(design, platform)
    clock = req.clock_mhz or design.clock_mhz
    if clock > platform.max_clock_mhz:
        raise UserError(
            f"clock_mhz {clock:g} is above {platform.name}'s fabric ceiling of "
            f"{platform.max_clock_mhz:g} MHz",
            field="clock_mhz",
        )
    return clock


def prepare(req: RunRequest, seq_len: int | None = None) -> Prepared:
    """Resolve, check the fit and the clock, and apply the calibration profile."""
    model, platform, design = resolve_design(req, seq_len or req.seq_len)
    clock = _checked_clock(req, design, platform)
    check_capacity(design, platform, model.layers, req.seq_len, req.tp, req.pp)
    raw_platform, profile, base = platform, None, CostParams()
    if req.calibration is not None:
        from spatialsim.calibration.profile import load as load_profile

        profile = load_profile(req.calibration)
        if profile.platform != platform.name:
            raise UserError(
                f"calibration {req.calibration} was fitted on {profile.platform}, "
                f"but the platform is {platform.name}",
                field="calibration",
            )
        base, platform = profile.apply(base, platform)
        design = profile.apply_design(design).freeze()
    return Prepared(model, design, platform, raw_platform, _params(req, base), clock, profile)


def _params(req: RunRequest, base: CostParams) -> CostParams:
    """``base`` with the request's constants on top (they win over a profile)."""
    params = base.replace(**dict(req.cost))
    if req.launch_overhead_us is not None:
        params = params.replace(launch_overhead_us=req.launch_overhead_us)
    return params


def cluster_of(req: RunRequest, platform: Platform) -> Cluster:
    """The cards and links ``req`` runs on."""
    return Cluster(platform, req.tp * req.pp, req.topology, req.link_gbps)


def run_config(req: RunRequest, params: CostParams, **changes: Any) -> RunConfig:
    """The engine configuration of ``req`` (``changes`` replace fields)."""
    gran = Granularity(None if req.granularity == "fine" else req.chunks_per_row)
    cfg = RunConfig(
        tp=req.tp,
        pp=req.pp,
        link_depth_words=req.link_depth,
        pp_schedule=req.pp_schedule,
        prompt_len=req.prompt_len,
        gen_len=req.gen_len,
        layers=req.layers,
        clock_mhz=req.clock_mhz,
        granularity=gran,
        params=params,
        host_io=req.host_io,
        replay_layers=not req.every_layer,
        timeline=req.timeline,
    )
    return dataclasses.replace(cfg, **changes) if changes else cfg


def simulate(
    req: RunRequest | None = None, *, progress: Progress | None = None, **fields: Any
) -> RunReport:
    """Simulate ``req`` (or a request built from ``fields``; given both, ``fields`` replace
    the request's) and return its report."""
    req = request(req, **fields)
    check_progress(progress)
    return simulate_prepared(req, prepare(req), progress)


def simulate_prepared(
    req: RunRequest, prep: Prepared, progress: Progress | None = None
) -> RunReport:
    """:func:`simulate` of a request already resolved by :func:`prepare` (a sweep resolves
    each point once, to check its fit, and simulates what it resolved)."""
    config = run_config(req, prep.params)
    cluster = cluster_of(req, prep.platform)
    card = shard(prep.design, req.tp)
    if req.tp > 1:
        check_fit(card, prep.platform)  # one card's share
    result = run_engine(prep.design, prep.platform, config, progress, cluster)
    energy = run_energy(result, card, PowerParams.of(dict(req.power)))
    calibration = None
    if prep.profile is not None:
        calibration = _uncertainty(req, prep, config, result)
    return RunReport(
        request=req,
        result=result,
        model_layers=prep.model.layers,
        analytical=_analytical(prep.design, prep.platform, result, req, prep.params),
        warnings=tuple(
            footprint_warnings(prep.design, prep.platform, prep.model.layers, req.seq_len)
        ),
        calibration=calibration,
        energy=energy,
    )


def _analytical(
    design: Design, platform: Platform, result: RunResult, req: RunRequest, params: CostParams
) -> dict[str, Any]:
    """Eq. 8 / Eq. 9 (Eqs. 13 and 14 on several cards) for the same run, scaled to the
    simulated layers; a design the paper's model does not describe (a temporal overlay)
    gets the reason instead."""
    try:
        return _equations(design, platform, result, req, params)
    except UserError as exc:
        return {"prefill_ms": None, "decode_ms_per_token": None, "unavailable": str(exc)}


def _equations(
    design: Design, platform: Platform, result: RunResult, req: RunRequest, params: CostParams
) -> dict[str, Any]:
    scale = result.layers / design.model.layers
    par = Parallelism(
        tp=req.tp,
        pp=req.pp,
        link_gbps=req.link_gbps or platform.links.port_gbitps,
        link_efficiency=params.link_efficiency,
    )
    clock = result.clock_mhz
    pre = estimate_phase(design, platform, "prefill", result.prompt_len, clock, par)
    out: dict[str, Any] = {"prefill_ms": pre.seconds * 1e3 * scale, "prefill_bound": pre.bound}
    if result.gen_len:
        contexts = range(result.prompt_len, result.prompt_len + result.gen_len)
        dec = [estimate_phase(design, platform, "decode", c, clock, par) for c in contexts]
        out["decode_ms_per_token"] = sum(d.seconds for d in dec) / len(dec) * 1e3 * scale
        out["decode_bound"] = dec[0].bound
    else:
        out["decode_ms_per_token"] = None
    return out


def _uncertainty(
    req: RunRequest, prep: Prepared, config: RunConfig, result: RunResult
) -> dict[str, Any]:
    """95 % intervals of TTFT and TPOT: the profile's parameter covariance propagated, and
    its model discrepancy and measurement noise added in quadrature."""
    from spatialsim.calibration.fit import apply as apply_values
    from spatialsim.calibration.profile import propagate
    from spatialsim.constants import Z95

    assert prep.profile is not None

    def outputs(values: dict[str, float]) -> list[float]:
        cost, plat = apply_values(values, CostParams(), prep.raw_platform)
        r = run_engine(
            prep.design,
            plat,
            dataclasses.replace(config, params=_params(req, cost)),
            cluster=cluster_of(req, plat),
        )
        return [r.ttft_ms, r.tpot_ms or 0.0]

    sig_ttft, sig_tpot = propagate(prep.profile, outputs)
    out: dict[str, Any] = {
        "profile": req.calibration,
        "parameters": prep.profile.values,
        "settings": dict(prep.profile.settings),
        "discrepancy": prep.profile.discrepancy,
        "noise": prep.profile.noise,
        "ttft_ms_stderr": sig_ttft,
        "ttft_ms_ci95": [result.ttft_ms - Z95 * sig_ttft, result.ttft_ms + Z95 * sig_ttft],
    }
    if result.tpot_ms is not None:
        out["tpot_ms_stderr"] = sig_tpot
        out["tpot_ms_ci95"] = [result.tpot_ms - Z95 * sig_tpot, result.tpot_ms + Z95 * sig_tpot]
    return out


def analyze(
    req: RunRequest | None = None,
    *,
    tp: int | None = None,
    pp: int | None = None,
    link_gbps: float | None = None,
    link_efficiency: float = 1.0,
    **fields: Any,
) -> AnalysisReport:
    """The paper's analytical model (Eqs. 8, 9, 13, 14 and the constraints) for ``req``:
    prefill at ``prompt_len``, decode averaged over the contexts prompt_len .. prompt_len +
    gen_len - 1 (the first generated token when gen_len is 0 or 1)."""
    req = request(req, **fields)
    given = {k: v for k, v in (("tp", tp), ("pp", pp), ("link_gbps", link_gbps)) if v is not None}
    req = req.replace(**given) if given else req  # checked as the request's own fields
    tp, pp, link_gbps = req.tp, req.pp, req.link_gbps
    if (
        isinstance(link_efficiency, bool)
        or not isinstance(link_efficiency, (int, float))
        or not 0.01 <= link_efficiency <= 1
    ):
        raise UserError(
            f"link_efficiency must be a share from 0.01 to 1, got {link_efficiency!r}",
            field="link_efficiency",
        )
    # the design is built to hold what the run holds (req.seq_len, as `run` and `design`
    # build it), so a design file analyses as the template it came from
    model, platform, design = resolve_design(req, req.seq_len)
    clock = _checked_clock(req, design, platform)
    par = Parallelism(
        tp=tp,
        pp=pp,
        link_gbps=link_gbps or platform.links.port_gbitps,
        link_efficiency=link_efficiency,
    )
    if pp > model.layers:
        raise UserError(f"pp {pp} exceeds {model.name}'s {model.layers} layers", field="pp")
    if model.heads % tp or model.kv_heads % tp:
        valid = [
            d for d in range(1, model.heads + 1) if model.heads % d == 0 and model.kv_heads % d == 0
        ]
        raise UserError(
            f"tp {tp} does not split {model.name}'s {model.heads} heads ({model.kv_heads} K/V "
            f"heads) evenly across devices; valid: {', '.join(map(str, valid))}",
            field="tp",
        )
    check_capacity(design, platform, model.layers, req.seq_len, tp, pp)
    prefill = estimate_phase(design, platform, "prefill", req.prompt_len, clock, par)
    contexts = list(range(req.prompt_len, req.prompt_len + max(req.gen_len, 1)))
    decodes = [estimate_phase(design, platform, "decode", c, clock, par) for c in contexts]
    decode_ms = sum(d.seconds for d in decodes) / len(decodes) * 1e3
    checks = {
        ph: design_checks(design, platform, ph, req.prompt_len, clock)
        for ph in ("prefill", "decode")
    }
    return AnalysisReport(
        request=req,
        model=model.name,
        design=design.name,
        platform=platform.name,
        clock_mhz=clock,
        layers=model.layers,
        tp=par.tp,
        pp=par.pp,
        prefill=prefill,
        decode=decodes[0],
        decode_ms_per_token=decode_ms,
        contexts=(contexts[0], contexts[-1]),
        checks=checks,
    )


def kernels(
    req: RunRequest | None = None,
    *,
    phase: str = "prefill",
    seq_len: int | None = None,
    **fields: Any,
) -> KernelsReport:
    """Every kernel's isolated cycle estimate, loop by loop, for one layer of ``phase``
    at ``seq_len`` (prefill: prompt tokens; decode: context; default the prompt length)."""
    req = request(req, **fields)
    if phase not in ("prefill", "decode"):
        raise UserError(f"phase {phase!r} is not one of prefill, decode", field="phase")
    if seq_len is not None:
        check_count(seq_len, "seq_len", 1, MAX_TOKENS, "tokens")
    seq = seq_len if seq_len is not None else req.prompt_len
    _, _, design = resolve_design(req, seq + (1 if phase == "decode" else 0))
    return KernelsReport(
        request=req,
        model=design.model.name,
        design=design.name,
        phase=phase,
        seq_len=seq,
        clock_mhz=design.clock_mhz,
        kernels=estimates_json(design, phase, seq),
        hls_aliases=HLS_ALIASES,
    )


def replay(
    trace: Trace | str | Path,
    req: RunRequest | None = None,
    *,
    samples: int = 12,
    overlong: str = "clip",
    limit: int | None = None,
    progress: Progress | None = None,
    workers: int | None = defaults.WORKERS,
    scheduler: str | None = None,
    **fields: Any,
) -> ReplayReport:
    """Serve ``trace`` (a loaded trace or a trace file) FCFS at batch 1 on the design of
    ``req``: latencies come from exact simulations with every engine option, calibration
    and override of the request (its prompt and generation lengths are not used). The
    latency table's simulations run in this process (``workers`` = 1), on that many local
    Dask workers, or on the Dask ``scheduler`` given."""
    from spatialsim.executor import Executor
    from spatialsim.serving.latency import LatencyModel
    from spatialsim.serving.replay import replay as serve

    req = request(req, **fields)
    check_progress(progress)
    if not isinstance(trace, Trace):
        trace = as_path(trace, "trace")
    executor = Executor(workers, scheduler)
    if overlong not in OVERLONG:
        raise UserError(
            f"overlong {overlong!r} is not one of {', '.join(OVERLONG)}", field="overlong"
        )
    check_count(samples, "samples", 1, MAX_SAMPLES, "each sample is two exact simulations")
    if limit is not None:
        check_count(limit, "limit", 1, MAX_REQUESTS, "requests of a trace")
    source = str(trace) if not isinstance(trace, Trace) else "<trace>"
    if not isinstance(trace, Trace):
        probe = req.replace(max_seq_len=req.max_seq_len or 1)
        model, _, _ = resolve_design(probe, 1)
        trace = load_trace(Path(trace), model.max_positions, overlong, limit)
    if not trace.requests:
        raise UserError(
            f"{source}: no request fits the model's context ({trace.dropped} dropped)",
            field="trace",
        )
    # the latency table samples at least one decode step, which needs room for two tokens
    longest = max(2, max(r.prompt_tokens + r.output_tokens for r in trace.requests))
    sized = req if req.max_seq_len is not None else req.replace(max_seq_len=longest)
    prep = prepare(sized, longest)
    base = run_config(sized, prep.params, prompt_len=1, gen_len=0, timeline=False)
    with executor:
        lm = LatencyModel.build(
            prep.design,
            prep.platform,
            max(r.prompt_tokens for r in trace.requests),
            longest,
            samples,
            progress,
            base=base,
            executor=executor,
        )
    return ReplayReport(
        request=req,
        trace=source,
        model=prep.model.name,
        design=prep.design.name,
        platform=prep.platform.name,
        clock_mhz=prep.clock_mhz,
        latency=lm,
        result=serve(trace, lm),
    )
