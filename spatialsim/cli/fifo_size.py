"""``spatialsim fifo-size``: the smallest FIFO depths that keep TTFT and TPOT."""

from __future__ import annotations

import argparse
from typing import Any

from spatialsim.cli.commands import HELP
from spatialsim.cli.common import (
    add_design_options,
    add_length_options,
    output_path,
    positive_float,
    positive_int,
    request_from_args,
)
from spatialsim.cli.progress import progress_bar
from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_write_text, check_writable
from spatialsim.report.text import table
from spatialsim.tomlio import parse_integer


def _workload(text: str) -> tuple[int, int]:
    prompt, sep, gen = text.partition("+")
    try:
        if not sep:
            raise ValueError
        p, g = parse_integer(prompt), parse_integer(gen)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not PROMPT+GENERATED (e.g. 128+8)") from None
    if p < 1 or g < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: prompt >= 1 and generated >= 0")
    return p, g


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "fifo-size",
        help=HELP["fifo-size"],
        description="Size every FIFO of a design: the smallest depth, no larger than the "
        "design's, that keeps TTFT and TPOT within --tolerance of unbounded FIFOs on every "
        "workload and never deadlocks. Writes the sized design (--out FILE.toml) and "
        "reports the BRAM, URAM and LUTs saved and the depths that deadlocked.",
    )
    add_design_options(p)
    add_length_options(p)
    p.add_argument(
        "--workload",
        action="append",
        type=_workload,
        default=[],
        metavar="PROMPT+GEN",
        help="another workload to hold (repeatable), e.g. 512+16",
    )
    p.add_argument(
        "--tolerance", type=positive_float, default=0.01, help="relative (default 0.01: 1 %%)"
    )
    p.add_argument("--layers", type=positive_int, default=2, help="layers simulated (2)")
    p.add_argument("--out", type=output_path, required=True, help="the sized design (.toml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatialsim.design.fileio import dumps_design
    from spatialsim.experiment.fifo_size import size_fifos
    from spatialsim.experiment.session import prepare

    check_writable(args.out)
    workloads = list(dict.fromkeys([(args.prompt_len, args.gen_len), *args.workload]))
    longest = max(p + g for p, g in workloads)
    req = request_from_args(args, args.prompt_len, args.gen_len)
    req = req.replace(max_seq_len=req.max_seq_len or longest)
    if req.max_seq_len is not None and longest > req.max_seq_len:
        raise UserError(
            f"a workload needs {longest} tokens but --max-seq-len is {req.max_seq_len}",
            field="max_seq_len",
        )
    prep = prepare(req, longest)
    res = size_fifos(
        prep.design, prep.platform, workloads, args.tolerance, args.layers, prep.params,
        progress_bar(),
    )  # fmt: skip
    atomic_write_text(args.out, dumps_design(res.design))
    changed = [f for f in res.fifos if f["sized"] != f["depth"]]
    rows = [[f["bitstream"], f["fifo"], f["depth"], f["sized"],
             f"{f['bram36_before']:g} -> {f['bram36_after']:g}",
             f"{f['uram_before']:g} -> {f['uram_after']:g}"] for f in changed]  # fmt: skip
    print(
        f"{len(changed)} of {len(res.fifos)} FIFOs made shallower, none deeper "
        f"(tolerance {args.tolerance:.1%} of unbounded FIFOs on "
        f"{', '.join(f'{p}+{g}' for p, g in workloads)})"
    )
    if rows:
        print(table(["bitstream", "fifo", "depth", "sized", "BRAM36", "URAM"], rows))
    saved = res.saved()
    print(f"saved: {saved['bram36']:g} BRAM36, {saved['uram']:g} URAM, {saved['lut']:,.0f} LUT")
    lat = res.latencies
    print(table(
        ["workload", "TTFT unbounded", "TTFT as given", "TTFT sized", "TPOT unbounded",
         "TPOT as given", "TPOT sized"],
        [[w, *(f"{lat[k][w][0]:.4f}" for k in ("unbounded", "as given", "sized")),
          *(f"{lat[k][w][1]:.4f}" if lat[k][w][1] is not None else "" for k in
            ("unbounded", "as given", "sized"))] for w in lat["sized"]],
    ))  # fmt: skip
    if res.rejected:
        print(f"\ndepths that deadlocked ({len(res.rejected)}):")
        for r in res.rejected:
            print(f"  {r['bitstream']} {r['fifo']} at {r['depth']} words: {r['diagnosis']}")
    print(f"\nwrote {args.out}")
    return 0
