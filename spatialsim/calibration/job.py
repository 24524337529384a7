"""One calibration job: measurements in, posterior, chosen structure and profile out.

:func:`calibrate` is what ``spatialsim calibrate`` runs (the CLI parses its flags into
these arguments, writes the profile and the figures, and prints the report). It fits, in
order, HBM microbenchmarks, HLS reports, then board runs and XRT profiles, each fit's
posterior becoming the next one's prior; with ``choose`` it fits every combination of the
structural alternatives on the board data and ranks them by evidence.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from spatialsim.errors import UserError

BOARD_CANDIDATES = [
    "cost.launch_overhead_us",
    "cost.wait_overhead_us",
    "hbm.read_bw_gbps",
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
        if not eq or not values.strip() or not target.startswith(("kind.", "design.")):
            raise UserError(
                f"--choose {item!r}: expected kind.<kind>.<param>=V1,V2 or "
                "design.<field>=V1,V2, e.g. kind.gemv.order=row,column"
            )
        opts = [parse_value(v.strip()) for v in values.split(",") if v.strip()]
        if len(opts) < 2:
            raise UserError(f"--choose {item!r}: give at least two alternatives")
        axes.append([(target, v) for v in opts])
    combos: list[tuple[tuple[str, Any], ...]] = (
        [tuple(c) for c in itertools.product(*axes)] if axes else [()]
    )
    if len(combos) > MAX_ALTERNATIVES:
        raise UserError(
            f"--choose gives {len(combos)} combinations; at most {MAX_ALTERNATIVES} "
            "(each is a full fit)"
        )
    return combos


def parse_noise(items: dict[str, float] | Sequence[str]) -> dict[str, float]:
    out = dict(NOISE)
    if isinstance(items, dict):
        items = [f"{k}={v}" for k, v in items.items()]
    for item in items:
        src, eq, val = item.partition("=")
        try:
            rel = float(val)
        except ValueError:
            rel = float("nan")
        if not eq or src not in NOISE or not math.isfinite(rel) or not 0 < rel < 1:
            raise UserError(
                f"--noise {item!r}: expected SOURCE=REL with SOURCE one of "
                f"{', '.join(NOISE)} and 0 < REL < 1 (a relative standard deviation)"
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
            raise UserError(f"--map {item!r}: expected CU=TARGET, e.g. bert_layer_1=region_1")
        mapping[cu.strip()] = target.strip()
    return mapping


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
            raise UserError(f"--xrt-run {item!r}: expected K=V with K one of {', '.join(allowed)}")
        fields[k.strip()] = v.strip()
    model = get_model(fields.get("model", "gpt2-medium"))
    design = fields.get("design", "chen2024-w8a8")

    def integer(key: str, default: int) -> int:
        try:
            value = int(fields.get(key, default))
        except ValueError:
            value = -1
        if value < (0 if key == "gen_len" else 1):
            raise UserError(f"--xrt-run {key}={fields[key]!r}: expected a positive integer")
        return value

    prompt, gen = integer("prompt_len", 128), integer("gen_len", 32)
    layers = integer("layers", model.layers)
    clock_text = fields.get("clock_mhz")
    if clock_text is None:
        clock = build_design(design, model, prompt + gen).clock_mhz
    else:
        try:
            clock = float(clock_text)
        except ValueError:
            clock = float("nan")
        if not 1 <= clock <= 1000:
            raise UserError(f"--xrt-run clock_mhz={clock_text!r}: expected MHz in [1, 1000]")
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


def calibrate(
    *,
    board: str | Path | None = None,
    xrt: str | Path | None = None,
    cu_map: dict[str, str] | Sequence[str] = (),
    xrt_run: str = "",
    choose: Sequence[str] = (),
    noise: dict[str, float] | Sequence[str] = (),
    hls: Sequence[str | Path] = (),
    hls_design: str = "chen2024-w4a8",
    hls_model: str = "gpt2-medium",
    hls_seq_len: int = 128,
    hbm: str | Path | None = None,
    platform: str = "u280",
    loo: bool = True,
    command: str = "",
    workers: int = 1,
    scheduler: str | None = None,
) -> Calibration:
    """Calibrate against the given measurement files (see docs/calibration.md). ``cu_map``
    maps XRT compute units to region_N, layer or a kernel (a dict, or CU=TARGET strings);
    ``choose`` holds TARGET=V1,V2 structural alternatives; ``noise`` SOURCE=REL strings or
    a dict of relative noise per source. The simulations of board runs and XRT profiles
    run in this process (``workers`` = 1), on that many local Dask workers, or on the Dask
    ``scheduler`` given: each fit step's simulations (every run at every finite-difference
    point) go out together."""
    from spatialsim.calibration.hls_report import parse_report
    from spatialsim.calibration.measurements import load_board_csv, load_hbm_csv
    from spatialsim.calibration.observations import (
        board_observations,
        hbm_observations,
        hls_observations,
        xrt_observations,
    )
    from spatialsim.calibration.profile import profile_doc
    from spatialsim.costmodel.params import CostParams
    from spatialsim.design.templates import build_design
    from spatialsim.executor import Executor
    from spatialsim.hardware.platform import get_platform
    from spatialsim.workload.models import get_model

    if not (board or hls or hbm or xrt):
        raise UserError("nothing to calibrate against: give --board, --xrt, --hls and/or --hbm")
    if xrt and not cu_map:
        raise UserError("--xrt needs --map CU=TARGET for the compute units to use")
    if cu_map and not xrt:
        raise UserError("--map names compute units of an --xrt profile; give --xrt FILE")
    mapping = parse_map(cu_map)
    noise = parse_noise(noise)
    choices = parse_choices(choose)
    if choose and not (board or xrt):
        raise UserError("--choose compares structures on board runs: give --board or --xrt")
    _check_choices(choices)
    executor = Executor(workers, scheduler)
    xrun = parse_xrt_run(xrt_run, platform, str(xrt)) if xrt else None
    plat_name = platform
    plat = get_platform(platform)
    cost = CostParams()
    design_ref = build_design(hls_design, get_model(hls_model), hls_seq_len)
    defaults = current_values(cost, plat, design_ref)
    base = dict(defaults)
    fits: dict[str, FitResult] = {}
    notes: dict[str, list[str]] = {}
    learned: dict[str, Any] = {}  # posteriors carried on as the next fit's priors
    if hbm:
        hs = hbm_observations(load_hbm_csv(Path(hbm)), plat, noise["hbm"])
        notes["hbm_not_modelled"] = hs.not_modelled
        fits["hbm"] = fit(hs.observations, candidates("hbm"), base, loo)
        _carry(fits["hbm"], "hbm", base, learned, posterior_prior)
    if hls:
        reports = [parse_report(Path(f)) for f in hls]
        hl = hls_observations(reports, design_ref, "prefill", hls_seq_len, cost, plat, noise["hls"])
        notes["hls_skipped"] = hl.skipped
        fits["hls"] = fit(hl.observations, candidates("hls"), base, loo, learned)
        _carry(fits["hls"], "hls", base, learned, posterior_prior)
    alternatives: list[Alternative] = []
    if board or xrt:
        runs = load_board_csv(Path(board)) if board else []
        xrt_prof = None
        if xrt:
            from spatialsim.calibration.xrt import read_xrt

            xrt_prof = read_xrt(Path(xrt))
        c, p = apply({k: v for k, v in base.items() if not k.startswith("design.")}, cost, plat)
        multi_card = any(r.tp * r.pp > 1 for r in runs)
        overlay = _overlay_defaults(runs, p)
        for name, value in overlay.items():
            base.setdefault(name, value)
        board_names = candidates("board", multi_card, bool(overlay))

        def observations(settings: tuple[tuple[str, Any], ...]) -> list[Observation]:
            obs = board_observations(runs, c, {plat_name: p}, settings, noise["board"])
            if xrt_prof is not None and xrun is not None:
                obs += xrt_observations(xrt_prof, mapping, xrun, c, p, settings, noise["xrt"])
            return obs

        with executor:
            for settings in choices:
                label = ", ".join(f"{k}={v}" for k, v in settings) or "as built"
                res = fit(
                    observations(settings),
                    board_names,
                    base,
                    loo and len(choices) == 1,
                    learned,
                    executor=executor,
                )
                alternatives.append(Alternative(label, settings, res))
            alternatives = compare(alternatives)
            best = alternatives[0]
            if loo and len(choices) > 1:  # leave-one-out only for the chosen structure
                obs = observations(best.settings)
                res = fit(obs, board_names, base, True, learned, executor=executor)
                best = alternatives[0] = Alternative(best.label, best.settings, res)
        fits["board"] = best.result
    meta: dict[str, Any] = {**({"command": command} if command else {})}
    meta.update({k: v for k, v in notes.items() if v})
    if hls:
        meta["hls_design"] = hls_design
    doc = profile_doc(plat_name, fits, defaults, meta, alternatives if len(choices) > 1 else None)
    return Calibration(fits, alternatives if len(choices) > 1 else [], defaults, doc, notes)


def _check_choices(choices: list[tuple[tuple[str, Any], ...]]) -> None:
    """Refuse a structural alternative that names no parameter or an invalid value, before
    any fit (and naming the option, not a board row)."""
    from spatialsim.design.overrides import apply_settings
    from spatialsim.design.templates import build_design
    from spatialsim.workload.models import get_model

    probe = build_design("chen2024-w8a8", get_model("gpt2"), 16)
    for settings in choices:
        for key, value in settings:
            try:
                apply_settings(probe, [(key, value)])
            except UserError as exc:
                raise UserError(f"--choose {key}={value}: {exc}") from None


def _carry(
    res: FitResult, source: str, base: dict[str, float], learned: dict[str, Any], post: Any
) -> None:
    """The fit's values become the next fit's starting point, its posteriors its priors."""
    for n in res.names:
        base[n] = res.values[n]
        if n in res.fitted:
            learned[n] = post(res, n, f"posterior of the {source} fit")
