"""``spatialsim optimize``: multi-objective search over a design's arrays (NSGA-II)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spatialsim.cli.commands import HELP
from spatialsim.cli.common import (
    DEFAULT_MODEL,
    add_design_options,
    add_executor_options,
    add_length_options,
    executor_args,
    nonneg_int,
    output_path,
    positive_int,
    request_from_args,
)
from spatialsim.cli.progress import progress_bar
from spatialsim.experiment.optimize import OBJECTIVE_CHOICES, OBJECTIVES
from spatialsim.fileutil import atomic_folder
from spatialsim.report.text import json_text, table

DEFAULT_OUT = "spatialsim-optimize"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "optimize",
        help=HELP["optimize"],
        description="NSGA-II (Optuna) over the widths of the design's Q/K/V/O, attention "
        "and FFN arrays, every trial simulated, infeasible ones (resources per SLR, ports, "
        "clock, deadlock) kept off the front. Writes OUT/pareto.csv, OUT/trials.csv and "
        "OUT/pareto_<i>.toml (each Pareto design, loadable with --design), and compares "
        "the front with the paper's work-balanced design (Eqs. 10-12) simulated.",
    )
    add_design_options(p)
    add_length_options(p)
    p.add_argument("--trials", type=positive_int, default=48, help="trials (48)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="sampler seed (0)")
    p.add_argument(
        "--objectives",
        default=",".join(OBJECTIVES),
        metavar="A,B,...",
        help=f"what to minimise, of {', '.join(OBJECTIVE_CHOICES)} (resources: the peak "
        f"over bitstreams; default {','.join(OBJECTIVES)})",
    )
    p.add_argument(
        "--out", type=output_path, default=DEFAULT_OUT, help=f"folder (default ./{DEFAULT_OUT})"
    )
    add_executor_options(p, "the trials")
    p.set_defaults(func=run)


def _row(name: str, params: dict[str, Any], row: dict[str, Any], groups: list[str]) -> list[Any]:
    ok = row.get("feasible")
    return [
        name,
        *(params.get(g, "") for g in groups),
        f"{row['ttft_ms']:.2f}" if ok else "does not fit",
        f"{row['tpot_ms']:.3f}" if ok and row.get("tpot_ms") else "",
        f"{row.get('dsp', 0):,.0f}" if row.get("dsp") else "",
        f"{row.get('lut', 0):,.0f}" if row.get("lut") else "",
        f"{row.get('bram36', 0):,.0f}" if ok else "",
        f"{row.get('uram', 0):,.0f}" if ok else "",
    ]


def run(args: argparse.Namespace) -> int:
    from spatialsim.experiment.optimize import optimize, save_front

    req = request_from_args(args, args.prompt_len, args.gen_len)
    workers, scheduler = executor_args(args)
    rep = optimize(req, args.trials, args.seed, workers, scheduler, progress_bar(), args.objectives)
    groups = list(rep.groups)
    ref = rep.reference.row
    rows = [_row("as built", {}, ref, groups)]
    rows += [_row(f"pareto_{i}", t.params, t.row, groups) for i, t in enumerate(rep.front)]
    bal = rep.balanced
    rows.append(_row("balanced (Eqs. 10-12)", bal["params"], bal["row"], groups))
    lines = [
        f"{req.design} for {req.model or 'gpt2-medium'} on {req.platform}, prompt "
        f"{req.prompt_len}, {req.gen_len} generated: {len(rep.trials)} trials, "
        f"{sum(t.feasible for t in rep.trials)} fit, {len(rep.front)} on the front of "
        f"{', '.join(rep.objectives)}",
        "",
        table(["design", *groups, "TTFT ms", "TPOT ms", "DSP", "LUT", "BRAM36", "URAM"], rows),
        "",
    ]
    better = [
        t for t in rep.front
        if ref.get("feasible") and t.row["ttft_ms"] < ref["ttft_ms"] and t.row["dsp"] <= ref["dsp"]
    ]  # fmt: skip
    if better:
        best = min(better, key=lambda t: t.row["ttft_ms"])
        lines.append(
            f"{len(better)} front design(s) are faster in prefill than the design as built "
            f"with no more DSPs; the fastest, {best.params}, by "
            f"{1 - best.row['ttft_ms'] / ref['ttft_ms']:.1%}"
        )
    b = bal["row"]
    if not b.get("feasible"):
        lines.append(
            f"The closed form's balanced design (Eq. 11 prefill {bal['eq11_prefill_ms']:.1f} "
            f"ms) is not buildable here: {b.get('reason') or b.get('error')}. Eqs. 2-7 "
            "count DSPs, on-chip memory and bandwidth over the whole device; the "
            "simulation's resource check also holds each SLR's LUTs and each array's "
            "width limit."
        )
    else:
        lines.append(
            f"The balanced design simulates at {b['ttft_ms']:.1f} ms against Eq. 11's "
            f"{bal['eq11_prefill_ms']:.1f} ms: its bound kernel {b['bound_kernel']} spends "
            f"{b['bound_stall_share'] or 0:.0%} of its time {b['bound_stall']}, which the "
            "closed form does not see (pipeline fill and drain, back-pressure, HBM)."
        )
    text = "\n".join(lines)
    from spatialsim.report.pages import REPORT, sweep_page

    owns = ("pareto.csv", "trials.csv", "pareto_*.toml", "summary.txt", "optimize.json",
            REPORT, "plots")  # fmt: skip
    with atomic_folder(args.out, owns=owns, command="optimize") as tmp:
        written = save_front(rep, tmp)
        (tmp / "summary.txt").write_text(text + "\n", encoding="utf-8")
        base = {"model": req.model or DEFAULT_MODEL, "design": req.design,
                "platform": req.platform}  # fmt: skip
        record = {"base": base, "trials": args.trials, "seed": args.seed}
        (tmp / "optimize.json").write_text(json_text(record), encoding="utf-8")
        (tmp / REPORT).write_text(sweep_page(tmp), encoding="utf-8")
    print(text)
    names = ", ".join(str(Path(args.out) / p.name) for p in written[:3])
    print(f"\nwrote {names}, ... ({len(written) + 2} files, {REPORT} to open in a browser)")
    return 0
