"""``spatialsim replay`` and ``spatialsim trace``: request traces on the accelerator."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spatialsim.cli.commands import HELP
from spatialsim.cli.common import (
    add_design_options,
    add_engine_options,
    add_executor_options,
    add_json_option,
    executor_args,
    nonneg_int,
    output_path,
    positive_float,
    positive_int,
    request_from_args,
)
from spatialsim.cli.progress import progress_bar
from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_write_text
from spatialsim.report.text import emit_json, json_text, table
from spatialsim.workload.traces import (
    ARRIVALS,
    OVERLONG,
    parse_length,
    synthesize,
    trace_csv,
)


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help=HELP["replay"],
        description="Serve the requests of a trace on the simulated accelerator in arrival "
        "order (batch 1, first come first served, with queueing). Prefill and "
        "decode-step latencies come from exact simulations at sampled lengths, "
        "interpolated in between (docs/metrics.md). Reports each request's TTFT, "
        "TPOT, end-to-end latency and queueing delay, their p50/p90/p99 and mean, "
        "throughput and utilisation. Traces: our CSV (traces/README.md) or the "
        "Azure LLM inference format.",
    )
    add_design_options(p)
    add_engine_options(p)
    p.add_argument("--trace", required=True, help="trace CSV")
    p.add_argument(
        "--limit", type=positive_int, default=None, help="use the first N requests of the trace"
    )
    p.add_argument(
        "--overlong",
        choices=OVERLONG,
        default="clip",
        help="requests longer than the model's context: clip the prompt (default) or drop them",
    )
    p.add_argument(
        "--samples",
        type=positive_int,
        default=12,
        help="exact simulations per latency table (default 12)",
    )
    add_executor_options(p, "the latency table's simulations")
    add_json_option(p, "the replay summary JSON")
    p.add_argument(
        "--out",
        type=output_path,
        metavar="DIR",
        default=None,
        help="write DIR/replay.json (with every request) for 'spatialsim plot'",
    )
    p.set_defaults(func=run_replay)

    t = sub.add_parser(
        "trace",
        help=HELP["trace"],
        description="Write a synthetic trace in our CSV format: arrivals at a mean rate "
        "(fixed gaps, uniform gaps or Poisson) and prompt/output lengths from "
        "fixed:N, uniform:LO:HI or lognormal:MEDIAN:SIGMA. The same seed gives "
        "the same file.",
    )
    t.add_argument("--requests", type=positive_int, default=100, help="how many (default 100)")
    t.add_argument(
        "--arrival", choices=ARRIVALS, default="poisson", help="arrival process (default poisson)"
    )
    t.add_argument(
        "--rate", type=positive_float, default=1.0, help="mean arrivals per second (default 1)"
    )
    t.add_argument("--prompt", default="lognormal:256:0.8", help="prompt length distribution")
    t.add_argument("--output", default="uniform:16:128", help="output length distribution")
    t.add_argument(
        "--seed", type=nonneg_int, default=0, help="random seed, 0 to 2**32-1 (default 0)"
    )
    t.add_argument("--out", type=output_path, default=None, help="file to write (default: stdout)")
    t.set_defaults(func=run_trace)
    add_plot_parser(sub)


def run_trace(args: argparse.Namespace) -> int:
    reqs = synthesize(
        args.requests,
        args.arrival,
        args.rate,
        parse_length(args.prompt),
        parse_length(args.output, low=0),
        args.seed,
    )
    text = trace_csv(reqs)
    if args.out:
        atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out} ({len(reqs)} requests)")
    else:
        print(text, end="")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from spatialsim.experiment.session import replay

    req = request_from_args(args)
    workers, scheduler = executor_args(args)
    report = replay(
        args.trace,
        req,
        samples=args.samples,
        overlong=args.overlong,
        limit=args.limit,
        progress=progress_bar(),
        workers=workers,
        scheduler=scheduler,
    )
    doc = report.to_json()
    if args.out:
        from spatialsim.fileutil import atomic_folder
        from spatialsim.report.pages import REPORT, replay_page

        owns = ("replay.json", REPORT, "plots")
        with atomic_folder(args.out, owns=owns, command="replay") as tmp:
            (tmp / "replay.json").write_text(
                json_text(report.to_json(include_requests=True)), encoding="utf-8"
            )
            (tmp / REPORT).write_text(replay_page(tmp), encoding="utf-8")
    if args.json:
        emit_json(doc, args.json)
        if args.json == "-":
            return 0
    res, lm = report.result, report.latency
    print(
        f"{report.model} on {report.platform} with {report.design} at "
        f"{report.clock_mhz:g} MHz: {res.served} requests from {args.trace} "
        f"({res.dropped} dropped, {res.clipped} clipped to the model's context), FCFS, "
        "batch 1"
    )
    rows = [
        [name] + [_ms(doc[key][p]) for p in ("p50", "p90", "p99", "mean")]
        for name, key in (
            ("TTFT (incl. queue)", "ttft_ms"),
            ("TPOT", "tpot_ms"),
            ("end-to-end", "e2e_ms"),
            ("queueing", "queue_ms"),
        )
    ]
    print(table(["latency (ms)", "p50", "p90", "p99", "mean"], rows))
    print(
        f"throughput {doc['throughput_tokens_per_s']:.1f} output tokens/s, utilisation "
        f"{doc['utilization']:.1%}, makespan {doc['makespan_s']:.1f} s; latencies from "
        f"{lm.simulations} exact simulations, interpolated"
    )
    if args.out:
        print(f"wrote {Path(args.out) / 'replay.json'}, {Path(args.out) / 'report.html'}")
    return 0


def _ms(value: float | None) -> Any:
    return "-" if value is None else float(f"{value:.4g}")


def add_plot_parser(sub: Any) -> None:
    p = sub.add_parser(
        "plot",
        help=HELP["plot"],
        description="Write PNG figures to DIR/plots/: kernel Gantt charts (one layer and the "
        "whole run), stall breakdown per kernel and phase, FIFO occupancy, "
        "per-token decode latency, memory channel utilisation, simulated vs "
        "analytical latency, and for a replay the request latency CDF.",
    )
    p.add_argument("dir", help="folder written by 'spatialsim run --out' or 'replay --out'")
    p.set_defaults(func=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    from spatialsim.report.plots import plot_folder  # matplotlib only when plotting

    folder = Path(args.dir)
    if not folder.is_dir():
        raise UserError(f"{args.dir}: not a folder")
    for path in plot_folder(folder):
        print(f"wrote {path}")
    return 0
