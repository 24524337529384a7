"""One calibration job: measurements in, posterior, chosen structure and profile out.

:func:`calibrate` is what ``spatialsim calibrate`` runs (the CLI parses its flags into
these arguments, writes the profile and the figures, and prints the report). It fits, in
order, HBM microbenchmarks, HLS reports, then board runs and XRT profiles, each fit's
posterior becoming the next one's prior; with ``choose`` it fits every combination of the
structural alternatives on the board data and ranks them by evidence.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialsim import defaults
from spatialsim.calibration.fit import (
    PARAMS,
    Alternative,
    FitResult,
    Observation,
    apply,
    compare,
    current_values,
    fit,
    posterior_prior,
)
from spatialsim.calibration.priors import PRIORS
from spatialsim.errors import UserError
from spatialsim.limits import check_count
from spatialsim.tomlio import as_path, parse_decimal

# hbm.read_bw_gbps is not among them: a board run cannot tell the channel's
# microbenchmark rate (the --hbm fit's) from the share of it the design's access pattern
# reaches, which is cost.hbm_efficiency
BOARD_CANDIDATES = [
    "cost.launch_overhead_us",
    "cost.wait_overhead_us",
    "cost.token_overhead_us",
    "cost.hbm_efficiency",
    "cost.slr_crossing_cycles",
    "cost.gemv_pass_overhead_cycles",
    "cost.attn_gemv_overhead_cycles",
]
CARD_CANDIDATES = ["cost.link_efficiency", "cost.link_hop_latency_ns", "cost.host_relay_us"]
OVERLAY_CANDIDATES = ["design.issue_cycles", "design.sfu_cycles"]
NOISE = {"board": 0.01, "xrt": 0.01, "hls": 0.001, "hbm": 0.02}
MAX_ALTERNATIVES = 16


@dataclass
class Calibration:
    """A finished calibration: each source's posterior, the structures compared (best
    first; empty without ``choose``), the parameters' defaults and the profile document."""

    fits: dict[str, FitResult]
    alternatives: list[Alternative]
    defaults: dict[str, float]
    doc: dict[str, Any]
    notes: dict[str, list[str]] = field(default_factory=dict)
    # source -> each measurement's change from the uncalibrated model, by cause
    explained: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def structure(self) -> tuple[tuple[str, Any], ...]:
        """The chosen structural settings (empty when none were compared)."""
        return self.alternatives[0].settings if len(self.alternatives) > 1 else ()


def candidates(source: str, multi_card: bool = False, overlay: bool = False) -> list[str]:
    """The parameters a source of measurements may inform: HLS reports the cost model's
    loop constants and the design's fill/drain, HBM microbenchmarks the memory model,
    board runs and XRT profiles the host and memory costs a whole run depends on, plus
    the links' when some run used several cards and the overlay's issue costs when some
    run was of an overlay."""
    if source == "hls":
        return [
            n
            for n in PARAMS
            if n.startswith(("cost.", "design."))
            and n
            not in (
                "cost.launch_overhead_us",
                "cost.wait_overhead_us",
                "cost.reconfig_ms",
                "cost.slr_crossing_cycles",
                "cost.axi_outstanding_reads",
                "cost.axi_burst_beats",
                "cost.hbm_efficiency",
                "cost.token_overhead_us",
                *CARD_CANDIDATES,
                *OVERLAY_CANDIDATES,
            )
        ]
    if source == "hbm":
        return [n for n in PARAMS if n.startswith(("hbm.", "ddr."))]
    out = list(BOARD_CANDIDATES)
    if multi_card:
        out += CARD_CANDIDATES
    if overlay:
        out += OVERLAY_CANDIDATES
    return out


def _overlay_defaults(runs: Sequence[Any], platform: Any) -> dict[str, float]:
    """The overlay parameters' values in the runs' designs (empty when no run is of an
    overlay): the board fit may then move them."""
    from spatialsim.calibration.observations import checked_design
    from spatialsim.costmodel.params import CostParams

    for run in runs:
        values = current_values(CostParams(), platform, checked_design(run, platform, ()))
        found = {n: values[n] for n in OVERLAY_CANDIDATES if n in values}
        if found:
            return found
    return {}


def parse_choices(items: Sequence[str]) -> list[tuple[tuple[str, Any], ...]]:
    """Every combination of the --choose alternatives, as design settings."""
    from spatialsim.design.overrides import parse_value

    axes: list[list[tuple[str, Any]]] = []
    for item in items:
        target, eq, values = item.partition("=")
        target = target.strip()
        if not eq or not values.strip() or not target.startswith(("kernel.", "kind.", "design.")):
            raise UserError(
                f"`choose` {item!r}: expected kernel.<name>.<param>=V1,V2, "
                "kind.<kind>.<param>=V1,V2 or design.<field>=V1,V2, e.g. "
                "kernel.ffn2.order=row,column"
            )
        opts = [parse_value(v.strip()) for v in values.split(",") if v.strip()]
        if len(opts) < 2:
            raise UserError(f"`choose` {item!r}: give at least two alternatives")
        axes.append([(target, v) for v in opts])
    combos: list[tuple[tuple[str, Any], ...]] = (
        [tuple(c) for c in itertools.product(*axes)] if axes else [()]
    )
    if len(combos) > MAX_ALTERNATIVES:
        raise UserError(
            f"`choose` gives {len(combos)} combinations; at most {MAX_ALTERNATIVES} "
            "(each is a full fit)"
        )
    return combos


MAX_HLS_FILES = 1024  # csynth reports and tables given to one calibration
MIN_NOISE = 1e-6  # a relative measurement noise below a part per million is not physical


def parse_noise(items: dict[str, float] | Sequence[str]) -> dict[str, float]:
    out = dict(NOISE)
    if isinstance(items, dict):
        items = [f"{k}={v}" for k, v in items.items()]
    for item in items:
        src, eq, val = item.partition("=")
        try:
            rel = parse_decimal(val)
        except ValueError:
            rel = float("nan")
        if not eq or src not in NOISE or not MIN_NOISE <= rel < 1:
            raise UserError(
                f"`noise` {item!r}: expected SOURCE=REL with SOURCE one of "
                f"{', '.join(NOISE)} and {MIN_NOISE:g} <= REL < 1 (a relative standard "
                "deviation; no measurement is surer than a part per million)",
                field="noise",
            )
        out[src] = rel
    return out


def parse_map(items: dict[str, str] | Sequence[str]) -> dict[str, str]:
    """XRT compute unit -> what it runs, from a dict or CU=TARGET strings."""
    if isinstance(items, dict):
        return dict(items)
    mapping: dict[str, str] = {}
    for item in items:
        cu, eq, target = item.partition("=")
        if not eq or not cu.strip() or not target.strip():
            raise UserError(f"`cu_map` {item!r}: expected CU=TARGET, e.g. bert_layer_1=region_1")
        cu, target = cu.strip(), target.strip()
        if cu in mapping and mapping[cu] != target:
            raise UserError(
                f"`cu_map` gives compute unit {cu} two targets, {mapping[cu]} and {target}; "
                "a compute unit runs one"
            )
        mapping[cu] = target
    return mapping


XRT_RUN_REQUIRED = ("model", "design", "prompt_len", "gen_len")


def parse_xrt_run(text: str, platform: str, path: str) -> Any:
    """The BoardRun an XRT profile is of, from --xrt-run K=V,..."""
    from spatialsim.calibration.measurements import BoardRun
    from spatialsim.design.templates import build_design
    from spatialsim.workload.models import get_model

    fields: dict[str, str] = {}
    allowed = ("model", "design", "platform", "layers", "prompt_len", "gen_len", "clock_mhz")
    for item in filter(None, (t.strip() for t in text.split(","))):
        k, eq, v = item.partition("=")
        if not eq or k.strip() not in allowed:
            raise UserError(f"`xrt_run` {item!r}: expected K=V with K one of {', '.join(allowed)}")
        fields[k.strip()] = v.strip()
    model = get_model(fields["model"]) if "model" in fields else None

    def integer(key: str, default: int) -> int:
        try:
            value = int(fields.get(key, default))
        except ValueError:
            value = -1
        if value < (0 if key == "gen_len" else 1):
            raise UserError(f"`xrt_run` {key}={fields[key]!r}: expected a positive integer")
        return value

    for key in ("prompt_len", "gen_len", "layers"):  # what is given is checked first
        if key in fields:
            integer(key, 0)
    clock: float | None = None
    if "clock_mhz" in fields:
        try:
            clock = float(fields["clock_mhz"])
        except ValueError:
            clock = float("nan")
        if not 1 <= clock <= 1000:
            raise UserError(
                f"`xrt_run` clock_mhz={fields['clock_mhz']!r}: expected MHz in [1, 1000]"
            )
    # a profile does not say which run it is of, and guessing fits the wrong run
    missing = [k for k in XRT_RUN_REQUIRED if k not in fields]
    if missing or model is None:
        raise UserError(
            f"`xrt_run`: the XRT profile {path} does not say which run it is of; give "
            f"{', '.join(missing)} (for example xrt_run "
            "'model=gpt2-medium,design=chen2024-w8a8,prompt_len=128,gen_len=32'; "
            "layers, platform and clock_mhz default to the model's, the platform's "
            "and the design's)"
        )
    design = fields["design"]
    prompt, gen = integer("prompt_len", 0), integer("gen_len", 0)
    layers = integer("layers", model.layers)
    if clock is None:
        clock = build_design(design, model, prompt + gen).clock_mhz
    return BoardRun(
        path,
        0,
        model.name,
        design,
        fields.get("platform", platform),
        layers,
        prompt,
        gen,
        clock,
        None,
        None,
    )


def _strings(field: str, value: Any, mapping_ok: bool = False) -> None:
    """``value`` is a list of "K=V" strings (or, with ``mapping_ok``, a str -> str or
    str -> number mapping)."""
    if mapping_ok and isinstance(value, dict):
        ok = all(isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in value.items())
    else:
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    if not ok:
        kinds = "a list of K=V strings" + (" or a mapping" if mapping_ok else "")
        raise UserError(f"{field} must be {kinds}, got {value!r:.60}", field=field)


def calibrate(
    *,
    board: str | Path | None = None,
    xrt: str | Path | None = None,
    cu_map: dict[str, str] | Sequence[str] = (),
    xrt_run: str = "",
    choose: Sequence[str] = (),
    search_structure: int | None = None,
    noise: dict[str, float] | Sequence[str] = (),
    hls: Sequence[str | Path] = (),
    hls_design: str = "chen2024-w4a8",
    hls_model: str = defaults.MODEL,
    hls_seq_len: int = 128,
    hls_phase: str = "prefill",
    hbm: str | Path | None = None,
    platform: str = defaults.PLATFORM,
    loo: bool = True,
    command: str = "",
    workers: int | None = defaults.WORKERS,
    scheduler: str | None = None,
) -> Calibration:
    """Calibrate against the given measurement files (see docs/calibration.md). ``cu_map``
    maps XRT compute units to region_N, layer or a kernel (a dict, or CU=TARGET strings);
    ``choose`` holds TARGET=V1,V2 structural alternatives (kernel.*, kind.* or design.*);
    ``search_structure`` searches the per-kernel structure itself, fitting at most that
    many structures; ``noise`` SOURCE=REL strings or a dict of relative noise per source.
    ``hls`` takes csynth reports (of phase ``hls_phase``) and CSV tables of latencies. The
    simulations of board runs and XRT profiles run in this process (``workers`` = 1), on
    that many local Dask workers, or on the Dask ``scheduler`` given: each fit step's
    simulations (every run at every finite-difference point) go out together.

    Fits run in order: HBM microbenchmarks, HLS module latencies (the isolated kernel
    estimates), then everything that depends on the design's structure: board runs, XRT
    profiles and HLS region latencies (each region simulated alone). Each fit's posterior
    is the next one's prior. The structure is compared on the last fit."""
    board = None if board is None else as_path(board, "board")
    xrt = None if xrt is None else as_path(xrt, "xrt")
    hbm = None if hbm is None else as_path(hbm, "hbm")
    if hls is None:
        hls = ()
    if isinstance(hls, (str, os.PathLike)):
        hls = [hls]
    if not isinstance(hls, (list, tuple)):
        raise UserError(f"hls must be a list of paths, got {hls!r:.60}", field="hls")
    hls = [as_path(h, "hls") for h in hls]
    if len(hls) > MAX_HLS_FILES:
        raise UserError(
            f"hls: {len(hls):,} files; at most {MAX_HLS_FILES:,} (a design's csynth reports "
            "are a few per kernel)",
            field="hls",
        )
    _strings("cu_map", cu_map, mapping_ok=True)
    _strings("choose", choose)
    _strings("noise", noise, mapping_ok=True)
    if search_structure is not None:
        check_count(search_structure, "search_structure", 1, MAX_SEARCH)
    if not isinstance(loo, bool):
        raise UserError(f"loo must be true or false, got {loo!r:.60}", field="loo")
    for key, given in (("hls_design", hls_design), ("hls_model", hls_model),
                       ("platform", platform), ("xrt_run", xrt_run)):  # fmt: skip
        if not isinstance(given, str):
            raise UserError(f"{key} must be a name (str), got {given!r:.60}", field=key)
    from spatialsim.calibration.explain import explain
    from spatialsim.calibration.measurements import load_board_csv, load_hbm_csv
    from spatialsim.calibration.observations import (
        board_observations,
        hbm_observations,
        region_observations,
        xrt_observations,
    )
    from spatialsim.calibration.profile import profile_doc
    from spatialsim.calibration.structure import DEFAULT_BUDGET, axes, label, search
    from spatialsim.costmodel.params import CostParams
    from spatialsim.design.templates import build_design
    from spatialsim.executor import Executor
    from spatialsim.hardware.platform import get_platform
    from spatialsim.workload.models import get_model

    if not (board or hls or hbm or xrt):
        raise UserError("nothing to calibrate against: give `board`, `xrt`, `hls` and/or `hbm`")
    if xrt and not cu_map:
        raise UserError("`xrt` needs `cu_map` CU=TARGET for the compute units to use")
    if cu_map and not xrt:
        raise UserError("`cu_map` names compute units of an `xrt` profile; give `xrt` FILE")
    if hls_phase not in ("prefill", "decode"):
        raise UserError(f"`hls_phase` {hls_phase!r}; valid: prefill, decode")
    if search_structure is not None and not 1 <= search_structure <= MAX_SEARCH:
        raise UserError(
            f"`search_structure` {search_structure}: the budget is the number of structures "
            f"fitted, 1 to {MAX_SEARCH}"
        )
    if search_structure is not None and choose:
        raise UserError("give `choose` or `search_structure`, not both")
    mapping = parse_map(cu_map)
    noise = parse_noise(noise)
    choices = parse_choices(choose)
    _check_choices(choices, [])  # kind.* and design.* values, before any file is read
    if (choose or search_structure) and not (board or xrt or hls):
        raise UserError(
            "structure is settled by board runs, XRT profiles or HLS region latencies: give "
            "`board`, `xrt` or `hls`"
        )
    executor = Executor(workers, scheduler)
    xrun = parse_xrt_run(xrt_run, platform, str(xrt)) if xrt else None
    plat_name = platform
    plat = get_platform(platform)
    cost = CostParams()
    model = get_model(hls_model)
    context = f"{model.name}'s context"
    check_count(hls_seq_len, "hls_seq_len", 1, model.max_positions, context)
    hls_files = _hls_inputs(hls, hls_phase)
    decode_rows = any(phase == "decode" for phase, _ in hls_files)
    if decode_rows:  # a decode step at hls_seq_len reads one more position
        check_count(hls_seq_len, "hls_seq_len", 1, model.max_positions - 1, context)
    design_ref = build_design(hls_design, model, hls_seq_len + (1 if decode_rows else 0))
    defaults = current_values(cost, plat, design_ref)
    base = dict(defaults)
    fits: dict[str, FitResult] = {}
    explained: dict[str, list[Any]] = {}
    notes: dict[str, list[str]] = {}
    learned: dict[str, Any] = {}  # posteriors carried on as the next fit's priors
    if hbm:
        hs = hbm_observations(load_hbm_csv(Path(hbm)), plat, noise["hbm"])
        notes["hbm_not_modelled"] = hs.not_modelled
        fits["hbm"] = fit(hs.observations, candidates("hbm"), base, loo)
        explained["hbm"] = explain(lambda _s: hs.observations, (), defaults, fits["hbm"].values)
        _carry(fits["hbm"], "hbm", base, learned, posterior_prior)
    regions: list[Any] = []
    if hls:
        obs, skipped = [], []
        for phase in ("prefill", "decode"):
            reports = [rep for ph, rep in hls_files if ph == phase]
            if reports:
                hl = _hls_set(reports, design_ref, phase, hls_seq_len, cost, plat, noise["hls"])
                obs += hl.observations
                regions += hl.regions
                skipped += hl.skipped
        notes["hls_skipped"] = skipped
        if obs:
            fits["hls"] = fit(obs, candidates("hls"), base, loo, learned)
            explained["hls"] = explain(lambda _s: obs, (), defaults, fits["hls"].values)
            _carry(fits["hls"], "hls", base, learned, posterior_prior)
    alternatives: list[Alternative] = []
    search_note: dict[str, Any] = {}
    runs = load_board_csv(Path(board)) if board else []
    gpu_runs = _gpu_runs(runs, hls or hbm or xrt)
    if gpu_runs:
        from spatialsim.calibration.gpu import GPU_CANDIDATES, gpu_defaults, gpu_observations

        if choose or search_structure:
            raise UserError("a GPU's batch-1 model has no structure to choose; drop `choose`")
        plat_name = gpu_runs[0].platform
        defaults = gpu_defaults()
        obs = gpu_observations(gpu_runs, noise["board"])
        fits["board"] = fit(obs, list(GPU_CANDIDATES), dict(defaults), loo)
        explained["board"] = explain(lambda _s: obs, (), defaults, fits["board"].values)
        board = None
    if board or xrt or regions:
        xrt_prof = None
        if xrt:
            from spatialsim.calibration.xrt import read_xrt

            xrt_prof = read_xrt(Path(xrt))
        c, p = apply({k: v for k, v in base.items() if not k.startswith("design.")}, cost, plat)
        multi_card = any(r.tp * r.pp > 1 for r in runs)
        overlay = _overlay_defaults(runs, p)
        for name, value in overlay.items():
            base.setdefault(name, value)
        names = candidates("board", multi_card, bool(overlay)) if (runs or xrt) else []
        if regions:
            names.append("cost.dataflow_overhead_cycles")
        stage = "board" if (runs or xrt) else "regions"
        designs = _designs(runs, xrun, p, design_ref if regions else None)
        _check_choices(choices, designs)

        def observations(settings: tuple[tuple[str, Any], ...]) -> list[Observation]:
            obs = board_observations(runs, c, {plat_name: p}, settings, noise["board"])
            if xrt_prof is not None and xrun is not None:
                obs += xrt_observations(xrt_prof, mapping, xrun, c, p, settings, noise["xrt"])
            if regions:
                seq = hls_seq_len
                obs += region_observations(
                    regions, design_ref, seq, cost, p, settings, noise["hls"]
                )
            return obs

        cached = _cached(observations)
        with executor:
            if search_structure is not None:

                def fit_one(settings: Any) -> FitResult:
                    return fit(
                        observations(settings), names, base, False, learned,
                        executor=executor, quick=True,
                    )  # fmt: skip

                centres = {**base, **{n: (learned.get(n) or PRIORS[n]).center for n in names}}
                found = search(
                    axes(designs, launch=bool(runs or xrt)),
                    cached,
                    fit_one,
                    centres,
                    search_structure or DEFAULT_BUDGET,
                )
                alternatives = found.alternatives
                search_note = found.to_json()
            else:
                for settings in choices:
                    # alternatives compared: one local search each; the chosen one is
                    # fitted whole below
                    res = fit(
                        observations(settings),
                        names,
                        base,
                        loo and len(choices) == 1,
                        learned,
                        executor=executor,
                        tries=1 if len(choices) > 1 else 3,
                    )
                    alternatives.append(Alternative(label(settings), settings, res))
                alternatives = compare(alternatives)
            best = alternatives[0]
            if len(alternatives) > 1:
                # the chosen structure fitted whole: every start, leave-one-out, and after a
                # search (whose fits are quick) the evidence of each explanation alone
                obs = observations(best.settings)
                res = fit(
                    obs, names, base, loo, learned, executor=executor, start=best.result.values
                )
                best = alternatives[0] = Alternative(best.label, best.settings, res)
            explained[stage] = explain(
                cached, best.settings, {**defaults, **overlay}, best.result.values
            )
        fits[stage] = best.result
    compared = alternatives if len(alternatives) > 1 else None
    meta: dict[str, Any] = {**({"command": command} if command else {})}
    meta.update({k: v for k, v in notes.items() if v})
    if hls:
        meta["hls_design"] = hls_design
    doc = profile_doc(plat_name, fits, defaults, meta, compared)
    if search_note and "structure" in doc:
        doc["structure"]["search"] = search_note
    doc["explained"] = {src: [e.to_json() for e in rows] for src, rows in explained.items()}
    return Calibration(fits, compared or [], defaults, doc, notes, explained)


MAX_SEARCH = 500  # fits: several hours of two-layer runs at the most


def _gpu_runs(runs: Sequence[Any], other_sources: Any) -> list[Any]:
    """The board runs when they are GPU runs (all of one GPU, and no FPGA sources beside
    them: a profile describes one platform); empty when they are FPGA runs."""
    from spatialsim.calibration.gpu import is_gpu_platform

    gpu = [r for r in runs if is_gpu_platform(r.platform)]
    if not gpu:
        return []
    if len(gpu) != len(runs):
        fpga = next(r for r in runs if not is_gpu_platform(r.platform))
        raise UserError(
            f"{fpga.file}: row {fpga.row}: platform {fpga.platform} is an FPGA among GPU runs; "
            "a profile describes one platform: calibrate the GPU runs from a file of their own",
            field="board",
        )
    names = sorted({r.platform for r in gpu})
    if len(names) > 1:
        raise UserError(
            f"{gpu[0].file}: GPU runs on {', '.join(names)}; a profile describes one GPU: "
            "give each GPU's runs in a file of their own",
            field="board",
        )
    if other_sources:
        raise UserError(
            "GPU board runs calibrate the GPU's batch-1 model alone; give the FPGA's HLS "
            "reports, HBM microbenchmarks or XRT profiles in a calibration of their own",
            field="board",
        )
    return list(gpu)


def _hls_inputs(files: Sequence[str | Path], phase: str) -> list[tuple[str, Any]]:
    """(phase, report) for every HLS input: a csynth report is of ``phase``; a CSV table
    gives one report per phase it has rows of."""
    from spatialsim.calibration.hls_report import HlsReport, parse_report
    from spatialsim.calibration.measurements import load_hls_csv

    out: list[tuple[str, Any]] = []
    for f in files:
        path = Path(f)
        if path.suffix.lower() != ".csv":
            out.append((phase, parse_report(path)))
            continue
        for ph, modules in load_hls_csv(path, phase).items():
            rows = {m: {"latency_cycles": v, "interval_cycles": None} for m, v in modules.items()}
            out.append((ph, HlsReport(str(path), "csv", "", None, None, None, None, None, rows)))
    return out


def _hls_set(
    reports: list[Any], design: Any, phase: str, seq: int, cost: Any, plat: Any, noise: float
) -> Any:
    from spatialsim.calibration.observations import hls_observations

    return hls_observations(reports, design, phase, seq, cost, plat, noise)


def _designs(runs: Sequence[Any], xrun: Any, platform: Any, hls_design: Any) -> list[Any]:
    """The designs structure applies to: every board run's, the XRT run's, the HLS
    reports' (when their regions are data)."""
    from spatialsim.calibration.observations import checked_design

    out = [checked_design(r, platform) for r in ([*runs, xrun] if xrun else runs)]
    if hls_design is not None:
        out.append(hls_design)
    return out


def _cached(observations: Any) -> Any:
    """``observations`` with one list kept per structure (the search predicts each many
    times; a list keeps its simulations' caches)."""
    kept: dict[Any, Any] = {}

    def get(settings: Any) -> Any:
        if settings not in kept:
            kept[settings] = observations(settings)
        return kept[settings]

    return get


def _check_choices(choices: list[tuple[tuple[str, Any], ...]], designs: list[Any]) -> None:
    """Refuse a structural alternative that names no parameter or an invalid value, before
    any fit (and naming the option, not a board row): against ``designs``, or, with none
    given, the ``kind.*`` and ``design.*`` ones against a probe design (``kernel.*`` names
    depend on the designs)."""
    from spatialsim.design.overrides import apply_settings

    if not designs:
        from spatialsim.design.templates import build_design
        from spatialsim.workload.models import get_model

        designs = [build_design("chen2024-w8a8", get_model("gpt2"), 16)]
        choices = [tuple(kv for kv in c if not kv[0].startswith("kernel.")) for c in choices]
    for settings in choices:
        for key, value in settings:
            errors = []
            for design in designs:
                try:
                    apply_settings(design, [(key, value)])
                except UserError as exc:
                    errors.append(exc)
            # a kind.* choice needs one design with that kind; the others keep theirs
            if errors and (not key.startswith("kind.") or len(errors) == len(designs)):
                raise UserError(f"`choose` {key}={value}: {errors[0]}") from None


def _carry(
    res: FitResult, source: str, base: dict[str, float], learned: dict[str, Any], post: Any
) -> None:
    """The fit's values become the next fit's starting point, its posteriors its priors."""
    for n in res.names:
        base[n] = res.values[n]
        if n in res.fitted:
            learned[n] = post(res, n, f"posterior of the {source} fit")
