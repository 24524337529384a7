"""``spatialsim report-hls``, ``calibrate`` and ``validate``: reports and measurements in,
fitted parameters with confidence intervals out, and the reference numbers side by side."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spatialsim.calibration.hls_report import parse_report
from spatialsim.cli.common import add_json_option
from spatialsim.report.text import emit_json, table


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "report-hls", help="read a Vitis HLS synthesis report (text or XML)",
        description="Print what a Vitis HLS csynth report says: top, part, clocks, latency "
                    "and interval, every instance module's latency and interval, every loop's "
                    "trip count, II, iteration latency and latency, and the resources. Reads "
                    "*_csynth.rpt, the csynth.rpt summary and *_csynth.xml.")
    p.add_argument("file", help="report file")
    add_json_option(p)
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    rep = parse_report(Path(args.file))
    if args.json:
        emit_json(rep.to_json(), args.json)
        return 0
    clock = (f"target {rep.clock_target_ns} ns, estimated {rep.clock_estimated_ns} ns"
             if rep.clock_target_ns else "clock not reported")
    print(f"{rep.top} ({rep.part}, {rep.format}): latency {rep.latency_cycles} cycles, "
          f"interval {rep.interval_cycles}; {clock}")
    if rep.modules:
        print(table(["module", "latency", "interval"],
                    [[n, m["latency_cycles"], m["interval_cycles"]]
                     for n, m in rep.modules.items()]))
    if rep.loops:
        print(table(["loop", "trips", "II", "iteration latency", "latency"],
                    [[n, lp.trip_count, lp.ii, lp.iteration_latency, lp.latency_cycles]
                     for n, lp in rep.loops.items()]))
    print("resources: " + ", ".join(f"{k} {v:,}" for k, v in rep.resources.items()))
    return 0
