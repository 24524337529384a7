"""``spatialsim report-hls``, ``calibrate`` and ``validate``: reports and measurements in,
fitted parameters with confidence intervals out, and the reference numbers side by side."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatialsim.cli.commands import HELP
from spatialsim.cli.common import (
    DEFAULT_MODEL,
    DEFAULT_PLATFORM,
    DEFAULT_PROMPT,
    add_executor_options,
    add_json_option,
    executor_args,
    output_path,
    positive_int,
)
from spatialsim.report.text import emit_json, table

if TYPE_CHECKING:
    from spatialsim.calibration.fit import FitResult

# scipy and the calibration code are imported by the commands that use them, so the other
# commands start without them.


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "report-hls",
        help=HELP["report-hls"],
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
        help=HELP["report-xrt"],
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


def add_calibrate_parser(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help=HELP["calibrate"],
        description="Compute the posterior of the simulator's parameters given your "
        "measurements: every parameter starts from a documented prior, the data move what "
        "they constrain (maximum a posteriori with a Laplace approximation, through the "
        "cost models and the simulator) and the rest stay at their priors. Residuals "
        "beyond the measurement noise are reported as model discrepancy and widen the "
        "intervals. With --choose, structural alternatives are compared by evidence. "
        "Prints each parameter with its 95 % interval and prior, every measurement's "
        "residual and leave-one-out error; writes a TOML profile for 'spatialsim run "
        "--calibration'. Formats and a worked example: docs/calibration.md.",
    )
    p.add_argument("--board", metavar="CSV", help="board runs (ttft_ms, tpot_ms, ...)")
    p.add_argument(
        "--xrt",
        metavar="FILE",
        help="an XRT profile summary (summary.csv) or device trace of one board run "
        "(described by --xrt-run; compute units named by --map)",
    )
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="CU=TARGET",
        help="what an XRT compute unit runs: region_1, region_2, region_3, layer or a "
        "kernel name (repeatable)",
    )
    p.add_argument(
        "--xrt-run",
        default="",
        metavar="K=V,...",
        help="the run the XRT profile is of, in board-CSV columns (required with --xrt): "
        "model, design, prompt_len and gen_len, and optionally layers (default: all), "
        "platform (default: --platform) and clock_mhz (default: the design's)",
    )
    p.add_argument(
        "--choose",
        action="append",
        default=[],
        metavar="TARGET=V1,V2",
        help="a structural choice to settle by evidence, per kernel, per kind or per design, "
        "e.g. kernel.ffn2.order=row,column, kind.gemv.order=row,column or "
        "design.launch_scope=region,layer,step (repeatable; all combinations are fitted)",
    )
    p.add_argument(
        "--search-structure",
        nargs="?",
        type=positive_int,
        const=40,
        default=None,
        metavar="BUDGET",
        help="search every kernel's structural choices (GEMV loop order, emit granularity, "
        "softmax output) and the launch scope by evidence: a greedy ascent from the "
        "structure as built, fitting at most BUDGET structures (default 40); prints the "
        "chosen structure and its margin over the runner-up",
    )
    p.add_argument(
        "--noise",
        action="append",
        default=[],
        metavar="SOURCE=REL",
        help="relative measurement noise (standard deviation) of a source: board "
        "(0.01), xrt (0.01), hls (0.001), hbm (0.02)",
    )
    p.add_argument(
        "--hls",
        nargs="+",
        default=[],
        metavar="REPORT",
        help="Vitis HLS csynth reports of the design given by --hls-design, or CSV tables "
        "of latencies (module,latency_cycles[,phase,source]; module: a report's module, "
        "a kernel or region_N)",
    )
    p.add_argument(
        "--hls-design",
        default="chen2024-w4a8",
        help="design the HLS reports are of (default chen2024-w4a8)",
    )
    p.add_argument(
        "--hls-model",
        default=DEFAULT_MODEL,
        help=f"model the HLS reports are of (default {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--hls-seq-len",
        type=positive_int,
        default=DEFAULT_PROMPT,
        help="sequence length the HLS reports are for: the prompt (prefill) or the context "
        f"(decode) (default {DEFAULT_PROMPT})",
    )
    p.add_argument(
        "--hls-phase",
        choices=("prefill", "decode"),
        default="prefill",
        help="phase the HLS reports' build runs (default prefill); a CSV table may say it per row",
    )
    p.add_argument(
        "--hbm",
        metavar="CSV",
        help="HBM/DDR microbenchmarks (quantity,value,unit,conditions,kind,source)",
    )
    p.add_argument(
        "--platform",
        default=DEFAULT_PLATFORM,
        help=f"platform the data are from (default {DEFAULT_PLATFORM})",
    )
    p.add_argument("--no-loo", action="store_true", help="skip leave-one-out refits")
    add_executor_options(p, "the board runs' simulations")
    p.add_argument(
        "--plot",
        metavar="DIR",
        help="also write the calibration report figures (observed vs predicted with "
        "intervals; each parameter's prior and posterior; the structures' evidence) to DIR",
    )
    p.add_argument(
        "--out", type=output_path, required=True, metavar="PROFILE", help="profile to write (.toml)"
    )
    p.set_defaults(func=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> int:
    from spatialsim.calibration.job import calibrate
    from spatialsim.calibration.profile import dumps, save
    from spatialsim.fileutil import check_writable

    check_writable(args.out)  # before any fitting

    command = "spatialsim calibrate " + " ".join(
        ([f"--hbm {args.hbm}"] if args.hbm else [])
        + (
            [
                f"--hls {' '.join(args.hls)} --hls-design {args.hls_design} --hls-model "
                f"{args.hls_model} --hls-seq-len {args.hls_seq_len}"
                + (f" --hls-phase {args.hls_phase}" if args.hls_phase != "prefill" else "")
            ]
            if args.hls
            else []
        )
        + ([f"--board {args.board}"] if args.board else [])
        + ([f"--xrt {args.xrt}"] if args.xrt else [])
        + [f"--map {m}" for m in args.map]
        + ([f"--xrt-run {args.xrt_run}"] if args.xrt_run else [])
        + [f"--choose {c}" for c in args.choose]
        + (
            [f"--search-structure {args.search_structure}"]
            if args.search_structure is not None
            else []
        )
        + [f"--noise {n}" for n in args.noise]
        + [f"--out {args.out}"]
    )
    workers, scheduler = executor_args(args)
    cal = calibrate(
        board=args.board,
        xrt=args.xrt,
        cu_map=args.map,
        xrt_run=args.xrt_run,
        choose=args.choose,
        search_structure=args.search_structure,
        noise=args.noise,
        hls=args.hls,
        hls_phase=args.hls_phase,
        hls_design=args.hls_design,
        hls_model=args.hls_model,
        hls_seq_len=args.hls_seq_len,
        hbm=args.hbm,
        platform=args.platform,
        loo=not args.no_loo,
        command=command,
        workers=workers,
        scheduler=scheduler,
    )
    written = []
    if args.plot:
        from spatialsim.fileutil import atomic_write_text
        from spatialsim.report.calibration_plots import write_calibration_plots
        from spatialsim.report.pages import REPORT, calibration_page

        written = write_calibration_plots(Path(args.plot), cal.doc)
        report = Path(args.plot) / REPORT
        atomic_write_text(report, calibration_page(cal.doc, written))
        written.append(report)
    save(Path(args.out), dumps(cal.doc))
    if cal.alternatives:
        _print_structures(cal.alternatives, cal.doc["structure"].get("search"))
    _print_fits(cal.fits, cal.defaults)
    _print_explained(cal.explained)
    for path in written:
        print(f"wrote {path}")
    print(f"\nwrote {args.out}")
    return 0


SHOWN_STRUCTURES = 12


def _print_structures(alternatives: list[Any], search: dict[str, Any] | None = None) -> None:
    best = alternatives[0].result.log_evidence
    print("structures compared by evidence (Laplace log marginal likelihood; best first)")
    print(
        table(
            ["structure", "log evidence", "vs best", "BIC", "discrepancy", "rms error"],
            [
                [
                    a.label,
                    f"{a.result.log_evidence:.2f}",
                    f"{a.result.log_evidence - best:+.2f}",
                    f"{a.result.bic:.2f}",
                    f"{a.result.discrepancy:.2%}",
                    f"{a.result.summary()['rms_error']:.3%}",
                ]
                for a in alternatives[:SHOWN_STRUCTURES]
            ],
        )
    )
    if len(alternatives) > SHOWN_STRUCTURES:
        print(f"... and {len(alternatives) - SHOWN_STRUCTURES} more (all in the profile)")
    if search:
        print(
            f"search: {search['fits']} structures fitted in {search['passes']} passes; "
            f"{search['screened']} changes moved no prediction and were not fitted"
        )
    if len(alternatives) > 1:
        runner = max(alternatives[1:], key=lambda a: a.result.log_evidence)
        gap = best - runner.result.log_evidence
        if gap < 0:  # a search keeps a change only when it gains more than a little
            print(
                f"chosen: {alternatives[0].label} ({runner.label} scores e^{-gap:.1f} "
                "higher, less than the e^1 a change must gain: the data cannot tell them "
                "apart, so the choice keeps its value as built)"
            )
            return
        verdict = "decisive" if gap > 4.6 else "strong" if gap > 2.3 else "weak: more data needed"
        print(
            f"chosen: {alternatives[0].label} (Bayes factor e^{gap:.1f} over "
            f"{runner.label}: {verdict})"
        )


def _print_fits(fits: dict[str, FitResult], defaults: dict[str, float]) -> None:
    for source, res in fits.items():
        s = res.summary()
        print(
            f"\n{source}: {s['observations']} measurements, {s['fitted']} parameters moved by "
            f"the data, {s['at_prior']} at their priors; rms error {s['rms_error']:.3%}"
            + (
                f", leave-one-out rms {s['loo_rms_error']:.3%}"
                if s["loo_rms_error"] is not None
                else ""
            )
        )
        print(
            f"model discrepancy beyond the noise: {res.discrepancy:.2%}"
            + (" (the model reproduces the data within the noise)" if res.discrepancy == 0 else "")
        )
        if res.preferred:
            evid = ", ".join(f"{k} {v:.1f}" for k, v in res.explanations.items())
            print(f"the data prefer: {res.preferred} (log evidence: {evid})")
        if res.fitted:
            print(
                table(
                    ["parameter", "posterior", "95 % interval", "prior 95 %", "default"],
                    [
                        [
                            n,
                            res.values[n],
                            f"[{res.ci95[n][0]:.4g}, {res.ci95[n][1]:.4g}]",
                            "[{:.4g}, {:.4g}]".format(*res.priors[n].interval95()),
                            defaults.get(n, float("nan")),
                        ]
                        for n in res.fitted
                    ],
                )
            )
        if res.confounded:
            print("not separated by these data (a combination of each pair is pinned, not each):")
            for a, b, r in res.confounded:
                print(f"  {a} and {b}: correlation {r:+.2f}")
        if res.fixed:
            print("at their priors (these data do not determine them):")
            for n, why in res.fixed.items():
                value = res.values.get(n, defaults.get(n, float("nan")))
                print(f"  {n} = {value:g}: {why}")
        print(
            table(
                ["measurement", "observed", "predicted", "95 % interval", "error", "leave-one-out"],
                [
                    [
                        r.label,
                        r.observed,
                        r.predicted,
                        f"+-{1.96 * r.predicted_sd:.4g}",
                        f"{r.error:+.3%}",
                        "" if r.loo_error is None else f"{r.loo_error:+.3%}",
                    ]
                    for r in res.residuals
                ],
            )
        )


CAUSES_SHOWN = 3


def _print_explained(explained: dict[str, list[Any]]) -> None:
    """Each measurement's change from the uncalibrated model and its largest causes."""
    for source, rows in explained.items():
        if not rows:
            continue
        print(
            f"\n{source}: what moved each prediction from the uncalibrated model (structure as "
            "built, defaults) to the calibrated one, largest causes first"
        )
        table_rows = []
        for e in rows:
            causes = [
                f"{name} {value / e.before:+.1%}"
                for name, value in e.parts[:CAUSES_SHOWN]
                if e.before and abs(value) > 1e-4 * abs(e.before)
            ]
            table_rows.append(
                [
                    e.label,
                    e.observed,
                    e.before,
                    e.after,
                    "; ".join(causes) or "nothing moved it",
                ]
            )
        print(table(["measurement", "observed", "before", "after", "causes"], table_rows))


# ---- validate ---------------------------------------------------------------------------


def add_validate_parser(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help=HELP["validate"],
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
        (
            "hls",
            "HLS estimates, W4A8 GPT-2-medium layer at l = 128 (cycles; in sample: the cost "
            "model's constants were read from these reports, spatialsim/costmodel/params.py)",
        ),
        ("hls_w8a8", "HLS estimates, W8A8 GPT-2-medium builds (prefill l = 512; cycles)"),
        ("resources", "Resources per region, W4A8 GPT-2-medium layer (HLS totals; routed DSPs)"),
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
