"""``spatialsim kernels``: the isolated cycle estimate of every kernel, loop by loop."""

from __future__ import annotations

import argparse
from typing import Any

from spatialsim.cli.commands import HELP
from spatialsim.cli.common import (
    DEFAULT_PROMPT,
    add_design_options,
    add_json_option,
    positive_int,
    request_from_args,
)
from spatialsim.report.text import emit_json, table


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "kernels",
        help=HELP["kernels"],
        description="Estimate each kernel's latency in isolation, from its loops' trip "
        "counts, II and iteration latency (II x (trips - 1) + depth), plus the "
        "fitted remainders documented in docs/engine.md; also each region's "
        "weight loader and each region's dataflow latency. Names are canonical "
        "(q_proj, ffn1, ...); the JSON maps the W4A8 artifact's HLS module "
        "names to them under 'hls_aliases'.",
    )
    add_design_options(p)
    p.add_argument(
        "--seq-len",
        type=positive_int,
        default=DEFAULT_PROMPT,
        help=f"prefill: prompt tokens; decode: context length (default {DEFAULT_PROMPT})",
    )
    p.add_argument(
        "--phase",
        choices=("prefill", "decode"),
        default="prefill",
        help="which phase's bitstream and work (default prefill)",
    )
    add_json_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatialsim.experiment.session import kernels

    report = kernels(request_from_args(args), phase=args.phase, seq_len=args.seq_len)
    doc = report.to_json()
    if args.json:
        emit_json(doc, args.json)
        return 0
    print(
        f"{report.design} for {report.model}, {args.phase} at seq {args.seq_len}: "
        f"isolated cycles per layer"
    )
    rows = []
    for name, k in report.kernels.items():
        loops = ", ".join(
            f"{ln} {lp['entries']:,}x{lp['trips']:,}@II{lp['ii']:g}"
            for ln, lp in k.get("loops", {}).items()
        )
        rows.append([name, k["kind"], k["cycles"], k["cycles"] / report.clock_mhz / 1e3, loops])
    print(table(["kernel", "kind", "cycles", "ms", "loops (entries x trips @ II)"], rows))
    return 0
