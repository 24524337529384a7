"""``spatialsim export-hls``: the design graph as HLS configuration, connectivity and Tcl."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spatialsim.cli.commands import HELP
from spatialsim.cli.common import add_design_options, output_path, positive_int, resolve


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export-hls",
        help=HELP["export-hls"],
        description="Write, per bitstream of the design, the configuration header the "
        "hw_kernels C++ is instantiated with (sizes, array shapes, every FIFO "
        "depth), the v++ connectivity file (sp= HBM bindings, slr= placement, "
        "stream_connect= links with depths), the region top functions and "
        "Vitis HLS csim/csynth/cosim scripts; all from the same design graph "
        "the simulator runs.",
    )
    add_design_options(p)
    p.add_argument(
        "--seq-len",
        type=positive_int,
        default=None,
        help="longest sequence to size buffers for (same as --max-seq-len)",
    )
    p.add_argument("--out", type=output_path, required=True, metavar="DIR", help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seq = args.seq_len or args.max_seq_len or 128
    if args.max_seq_len is None:
        args.max_seq_len = seq
    _, platform, design = resolve(args, seq)
    from spatialsim.design.resources import check_fit
    from spatialsim.hls.export import export

    check_fit(design, platform)
    paths = export(design, platform, Path(args.out))
    for path in paths:
        print(f"wrote {path}")
    if design.head:
        print(
            f"the model's head ({', '.join(design.head)}) has no region functions: these "
            "files build the layer; its cost is simulated, not exported"
        )
    return 0
