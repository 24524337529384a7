"""``spatialsim report-hls``, ``calibrate`` and ``validate``: reports and measurements in,
fitted parameters with confidence intervals out, and the reference numbers side by side."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatialsim.cli.common import add_json_option, positive_int
from spatialsim.errors import UserError
from spatialsim.report.text import emit_json, table

if TYPE_CHECKING:
    from spatialsim.calibration.fit import FitResult

# scipy and the calibration code are imported by the commands that use them, so the other
# commands start without them.


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "report-hls",
        help="read a Vitis HLS synthesis report (text or XML)",
        description="Print what a Vitis HLS csynth report says: top, part, clocks, latency "
        "and interval, every instance module's latency and interval, every loop's "
        "trip count, II, iteration latency and latency, and the resources. Reads "
        "*_csynth.rpt, the csynth.rpt summary and *_csynth.xml.",
    )
    p.add_argument("file", help="report file")
    add_json_option(p)
    p.set_defaults(func=run_report)
    add_calibrate_parser(sub)
    add_validate_parser(sub)
    add_xrt_parser(sub)


def add_xrt_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report-xrt",
        help="read an XRT profile summary (summary.csv) or device trace",
        description="Read what XRT writes when a design is profiled on the board: a profile "
        "summary (summary.csv: each compute unit's calls and execution times) or a "
        "device trace (device_trace_*.csv: each execution, and the gaps between "
        "them). Unknown sections and columns are ignored.",
    )
    p.add_argument("file", help="summary.csv or device_trace_*.csv")
    add_json_option(p)
    p.set_defaults(func=run_xrt)


def run_xrt(args: argparse.Namespace) -> int:
    from spatialsim.calibration.xrt import DeviceTrace, read_xrt

    prof = read_xrt(Path(args.file))
    doc = prof.to_json()
    if args.json:
        emit_json(doc, args.json)
        return 0
    if isinstance(prof, DeviceTrace):
        print(f"{args.file}: device trace, {len(prof.compute_units)} compute units")
        rows = [
            [
                cu,
                t["kernel"],
                t["executions"],
                t["mean_ms"],
                t["min_ms"],
                t["max_ms"],
                "-" if t["mean_gap_ms"] is None else t["mean_gap_ms"],
            ]
            for cu, t in doc["compute_units"].items()
        ]
        print(
            table(
                [
                    "compute unit",
                    "kernel",
                    "executions",
                    "mean ms",
                    "min ms",
                    "max ms",
                    "mean gap ms",
                ],
                rows,
            )
        )
        return 0
    print(f"{args.file}: profile summary of {doc['application'] or '?'} on {doc['device'] or '?'}")
    rows = [
        [
            cu,
            s["kernel"],
            s["calls"],
            s["total_ms"],
            s["avg_ms"],
            s["min_ms"],
            s["max_ms"],
            s["clock_mhz"],
        ]
        for cu, s in doc["compute_units"].items()
    ]
    print(
        table(
            ["compute unit", "kernel", "calls", "total ms", "avg ms", "min ms", "max ms", "MHz"],
            rows,
        )
    )
    return 0


def run_report(args: argparse.Namespace) -> int:
    from spatialsim.calibration.hls_report import parse_report

    rep = parse_report(Path(args.file))
    if args.json:
        emit_json(rep.to_json(), args.json)
        return 0
    clock = (
        f"target {rep.clock_target_ns} ns, estimated {rep.clock_estimated_ns} ns"
        if rep.clock_target_ns
        else "clock not reported"
    )
    print(
        f"{rep.top} ({rep.part}, {rep.format}): latency {rep.latency_cycles} cycles, "
        f"interval {rep.interval_cycles}; {clock}"
    )
    if rep.modules:
        print(
            table(
                ["module", "latency", "interval"],
                [[n, m["latency_cycles"], m["interval_cycles"]] for n, m in rep.modules.items()],
            )
        )
    if rep.loops:
        print(
            table(
                ["loop", "trips", "II", "iteration latency", "latency"],
                [
                    [n, lp.trip_count, lp.ii, lp.iteration_latency, lp.latency_cycles]
                    for n, lp in rep.loops.items()
                ],
            )
        )
    print("resources: " + ", ".join(f"{k} {v:,}" for k, v in rep.resources.items()))
    return 0


# ---- calibrate --------------------------------------------------------------------------

BOARD_CANDIDATES = [
    "cost.launch_overhead_us",
    "hbm.read_bw_gbps",
    "cost.slr_crossing_cycles",
    "cost.gemv_pass_overhead_cycles",
    "cost.attn_gemv_overhead_cycles",
]


def add_calibrate_parser(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the simulator's parameters to HLS reports, HBM microbenchmarks and board runs",
        description="Fit the parameters the data determine, with scipy least_squares "
        "through the cost models and the simulator. Prints each parameter "
        "with a 95 %% confidence interval, every measurement's residual and its "
        "leave-one-out error, and the parameters the data cannot determine "
        "(kept at their defaults, with the reason). Writes a TOML profile for "
        "'spatialsim run --calibration'. The CSV formats are in "
        "docs/calibration.md.",
    )
    p.add_argument("--board", metavar="CSV", help="board runs (ttft_ms, tpot_ms, ...)")
    p.add_argument(
        "--hls",
        nargs="+",
        default=[],
        metavar="REPORT",
        help="Vitis HLS csynth reports of the design given by --hls-design",
    )
    p.add_argument(
        "--hls-design",
        default="chen2024-w4a8",
        help="design the HLS reports are of (default chen2024-w4a8)",
    )
    p.add_argument(
        "--hls-model",
        default="gpt2-medium",
        help="model the HLS reports are of (default gpt2-medium)",
    )
    p.add_argument(
        "--hls-seq-len",
        type=positive_int,
        default=128,
        help="sequence length the HLS reports are for (default 128)",
    )
    p.add_argument(
        "--hbm",
        metavar="CSV",
        help="HBM/DDR microbenchmarks (quantity,value,unit,conditions,kind,source)",
    )
    p.add_argument("--platform", default="u280", help="platform the data are from")
    p.add_argument("--no-loo", action="store_true", help="skip leave-one-out refits")
    p.add_argument("--out", required=True, metavar="PROFILE", help="profile to write (.toml)")
    p.set_defaults(func=run_calibrate)


def candidates(source: str) -> list[str]:
    """The parameters a source of measurements may fit: HLS reports fit the cost model's
    loop constants and the design's fill/drain, HBM microbenchmarks the memory model."""
    from spatialsim.calibration.fit import PARAMS

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
            )
        ]
    if source == "hbm":
        return [n for n in PARAMS if n.startswith(("hbm.", "ddr."))]
    return list(BOARD_CANDIDATES)


def run_calibrate(args: argparse.Namespace) -> int:
    from spatialsim.calibration.fit import apply, current_values, fit
    from spatialsim.calibration.hls_report import parse_report
    from spatialsim.calibration.measurements import load_board_csv, load_hbm_csv
    from spatialsim.calibration.observations import (
        board_observations,
        hbm_observations,
        hls_observations,
    )
    from spatialsim.calibration.profile import save, to_toml
    from spatialsim.costmodel.params import CostParams
    from spatialsim.design.templates import build_design
    from spatialsim.hardware.platform import get_platform
    from spatialsim.workload.models import get_model

    if not (args.board or args.hls or args.hbm):
        raise UserError("nothing to calibrate against: give --board, --hls and/or --hbm")
    platform = get_platform(args.platform)
    cost = CostParams()
    design_ref = build_design(args.hls_design, get_model(args.hls_model), args.hls_seq_len)
    defaults = current_values(cost, platform, design_ref)
    base = dict(defaults)
    fits: dict[str, FitResult] = {}
    notes: dict[str, list[str]] = {}
    loo = not args.no_loo
    if args.hbm:
        hs = hbm_observations(load_hbm_csv(Path(args.hbm)), platform)
        notes["hbm_not_modelled"] = hs.not_modelled
        fits["hbm"] = fit(hs.observations, candidates("hbm"), base, loo)
        base.update({n: fits["hbm"].values[n] for n in fits["hbm"].fitted})
    if args.hls:
        reports = [parse_report(Path(f)) for f in args.hls]
        hl = hls_observations(reports, design_ref, "prefill", args.hls_seq_len, cost, platform)
        notes["hls_skipped"] = hl.skipped
        fits["hls"] = fit(hl.observations, candidates("hls"), base, loo)
        base.update({n: fits["hls"].values[n] for n in fits["hls"].fitted})
    if args.board:
        c, p = apply({k: v for k, v in base.items() if not k.startswith("design.")}, cost, platform)
        obs = board_observations(load_board_csv(Path(args.board)), c, {args.platform: p})
        taken = {n for f in fits.values() for n in f.fitted}
        fits["board"] = fit(obs, [n for n in BOARD_CANDIDATES if n not in taken], base, loo)
    command = "spatialsim calibrate " + " ".join(
        ([f"--hbm {args.hbm}"] if args.hbm else [])
        + (
            [
                f"--hls {' '.join(args.hls)} --hls-design {args.hls_design} --hls-model "
                f"{args.hls_model} --hls-seq-len {args.hls_seq_len}"
            ]
            if args.hls
            else []
        )
        + ([f"--board {args.board}"] if args.board else [])
        + [f"--out {args.out}"]
    )
    meta = {"command": command, **{k: v for k, v in notes.items() if v}}
    save(Path(args.out), to_toml(args.platform, fits, defaults, meta))
    _print_fits(fits, defaults)
    print(f"\nwrote {args.out}")
    return 0


def _print_fits(fits: dict[str, FitResult], defaults: dict[str, float]) -> None:
    for source, res in fits.items():
        s = res.summary()
        print(
            f"\n{source}: {s['observations']} measurements, {s['fitted']} parameters fitted "
            f"({res.dof} degrees of freedom); rms error {s['rms_error']:.3%}"
            + (
                f", leave-one-out rms {s['loo_rms_error']:.3%}"
                if s["loo_rms_error"] is not None
                else ""
            )
        )
        if res.fitted:
            print(
                table(
                    ["parameter", "value", "95 % interval", "default"],
                    [
                        [
                            n,
                            res.values[n],
                            f"[{res.ci95[n][0]:.4g}, {res.ci95[n][1]:.4g}]",
                            defaults[n],
                        ]
                        for n in res.fitted
                    ],
                )
            )
        if res.fixed:
            print("not determined by these data (kept at their defaults):")
            for n, why in res.fixed.items():
                print(f"  {n} = {defaults.get(n, float('nan')):g}: {why}")
        print(
            table(
                ["measurement", "observed", "predicted", "error", "leave-one-out"],
                [
                    [
                        r.label,
                        r.observed,
                        r.predicted,
                        f"{r.error:+.3%}",
                        "" if r.loo_error is None else f"{r.loo_error:+.3%}",
                    ]
                    for r in res.residuals
                ],
            )
        )


# ---- validate ---------------------------------------------------------------------------


def add_validate_parser(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help="every shipped reference number against the models, side by side",
        description="Print every reference number the project ships (the W4A8 layer's HLS "
        "estimates, HBM and DDR microbenchmarks) next to the cost model, the "
        "simulator and the analytical model, with signed errors.",
    )
    add_json_option(p)
    p.set_defaults(func=run_validate)


def _signed(err: float | None) -> str:
    return "" if err is None else f"{err:+.2%}"


def _opt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def run_validate(args: argparse.Namespace) -> int:
    from spatialsim.calibration.validate import validation_rows

    rows = validation_rows()
    if args.json:
        emit_json({"rows": [r.to_json() for r in rows]}, args.json)
        return 0
    for section, title in (
        ("hls", "HLS estimates, W4A8 GPT-2-medium layer at l = 128 (cycles)"),
        ("hls_w8a8", "HLS estimates, W8A8 GPT-2-medium builds (prefill l = 512; cycles)"),
        ("memory", "Memory microbenchmarks on the U280"),
    ):
        sel = [r for r in rows if r.section == section]
        notes = list(dict.fromkeys(r.note for r in sel if r.note))
        print(title)
        print(
            table(
                [
                    "reference",
                    "value",
                    "cost model",
                    "err",
                    "simulator",
                    "err",
                    "analytical",
                    "err",
                ],
                [
                    [
                        r.name + (f" [{notes.index(r.note) + 1}]" if r.note else ""),
                        _opt(r.reference),
                        _opt(r.model),
                        _signed(r.errors()["model"]),
                        _opt(r.simulator),
                        _signed(r.errors()["simulator"]),
                        _opt(r.analytical),
                        _signed(r.errors()["analytical"]),
                    ]
                    for r in sel
                ],
            )
        )
        for i, n in enumerate(notes, start=1):
            print(f"  [{i}] {n}")
        print()
    print("Sources: " + "; ".join(sorted({r.source.split(":")[0] for r in rows})))
    return 0
