"""``spatialsim sweep SPEC.toml``: a resumable design-space sweep, locally or on Dask."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spatialsim.cli.commands import HELP
from spatialsim.cli.common import add_executor_options, executor_args, output_path
from spatialsim.cli.progress import progress_bar
from spatialsim.report.text import table

DEFAULT_OUT = "spatialsim-sweep"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help=HELP["sweep"],
        description="Run every point of a sweep spec (TOML: [base] request fields, [axes] "
        "--set paths, --cost names or request fields, optional [sample]; docs/sweep.md). "
        "Each point is checked for fit first (an infeasible point is recorded with the "
        "reason), then simulated. Rows stream into OUT/results.csv; run it again to "
        "resume: points already written are not recomputed.",
    )
    p.add_argument("spec", type=Path, help="the sweep spec (.toml)")
    p.add_argument(
        "--out", type=output_path, default=DEFAULT_OUT, help=f"folder (default ./{DEFAULT_OUT})"
    )
    add_executor_options(p, "the points")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatialsim.experiment.sweep import load_spec, sweep, table_dicts
    from spatialsim.optional import INSTALL

    spec = load_spec(args.spec)
    workers, scheduler = executor_args(args)
    outcome = sweep(spec, Path(args.out), workers, scheduler, progress_bar())
    from spatialsim.fileutil import atomic_write_text
    from spatialsim.report.pages import REPORT, sweep_page

    report = Path(args.out) / REPORT
    atomic_write_text(report, sweep_page(Path(args.out)))
    rows = table_dicts(outcome.table)
    feasible = [r for r in rows if r["feasible"] == "true"]
    print(
        f"{outcome.total} points: {outcome.computed} computed now, {outcome.skipped} already "
        f"in {outcome.table}; {len(feasible)} feasible, "
        f"{sum(1 for r in rows if r['error'])} with errors"
    )
    if outcome.parquet is None:
        print(f"(results.parquet not written: pyarrow is not installed; {INSTALL})")
    axes = [a.name for a in spec.axes]
    for metric in ("ttft_ms", "tpot_ms"):
        best = sorted((r for r in feasible if r[metric]), key=lambda r: float(r[metric]))[:3]
        if best:
            print(f"\nfastest by {metric}")
            digits = 2 if metric == "ttft_ms" else 3
            cells = [[*(r[a] for a in axes), f"{float(r[metric]):.{digits}f}",
                     f"{float(r['dsp']):,.0f}"] for r in best]  # fmt: skip
            print(table([*axes, metric, "dsp"], cells))
    print(f"\nwrote {outcome.table}, {report}")
    return 0
