"""``spatialsim compare``: a spatial design against a temporal overlay, side by side."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spatialsim import defaults
from spatialsim.cli.commands import HELP
from spatialsim.cli.common import (
    DEFAULT_MODEL,
    DEFAULT_PLATFORM,
    add_json_option,
    add_length_options,
    output_path,
    positive_int,
    request_from_args,
)
from spatialsim.cli.progress import progress_bar
from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_folder, check_writable
from spatialsim.report.text import emit_json, json_text, table

DEFAULT_OUT = "spatialsim-compare"
OUT_FILES = ("compare.json", "compare.txt", "compare.png", "report.html")


def _cards(text: str) -> tuple[int, ...]:
    try:
        out = tuple(positive_int(t) for t in text.split(","))
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return out


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help=HELP["compare"],
        description="Simulate the same model and workload on a spatial design and a "
        "temporal overlay (by default chen2024-w8a8 and dfx on the U280), on one or more "
        "card counts (tensor parallelism), and print TTFT, TPOT, throughput, resources "
        "and energy per token side by side. Writes OUT/compare.json, compare.txt and "
        "compare.png.",
    )
    p.add_argument("--model", default=None, help=f"model (default: {DEFAULT_MODEL})")
    p.add_argument(
        "--platform", default=DEFAULT_PLATFORM, help=f"platform (default {DEFAULT_PLATFORM})"
    )
    designs = f"{defaults.DESIGN},{defaults.TEMPORAL}"
    p.add_argument(
        "--designs",
        default=designs,
        help=f"comma-separated designs, the spatial one first (default {designs})",
    )
    p.add_argument(
        "--cards",
        type=_cards,
        default=(1,),
        help="comma-separated card counts, e.g. 1,2,4 (default 1)",
    )
    add_length_options(p)
    from spatialsim.analytical.gpu import MODES, PARAMS, PRECISIONS
    from spatialsim.hardware.gpu import BUILTIN_GPUS

    p.add_argument(
        "--gpu",
        default=None,
        metavar="GPU",
        help=f"add a GPU baseline at batch 1: a built-in GPU ({', '.join(BUILTIN_GPUS)}) or "
        "a GPU .toml file (spatialsim/analytical/gpu.py describes the model)",
    )
    p.add_argument(
        "--gpu-mode",
        choices=MODES,
        default="graphs",
        help="how the GPU runs: eager (PyTorch launching every operator) or graphs (CUDA "
        "graphs or a serving engine, fused kernels) (default graphs)",
    )
    p.add_argument(
        "--gpu-precision",
        choices=tuple(PRECISIONS),
        default="fp16",
        help="the GPU's weight and activation precision (default fp16)",
    )
    p.add_argument(
        "--gpu-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"replace one of the GPU model's assumptions ({', '.join(PARAMS)}) (repeatable)",
    )
    p.add_argument(
        "--gpu-calibration",
        default=None,
        metavar="PROFILE",
        help="a profile `calibrate --board` fitted to runs on that GPU: its parameters "
        "replace the model's assumptions (--gpu-param still wins)",
    )
    p.add_argument(
        "--out", type=output_path, default=DEFAULT_OUT, help=f"folder (default ./{DEFAULT_OUT})"
    )
    add_json_option(p, "the comparison JSON")
    p.set_defaults(func=run)


def _text(doc: dict[str, Any]) -> str:
    from spatialsim.report.compare_plot import compare_rows

    header, rows = compare_rows(doc)
    lines = [
        f"{doc['model']} on {doc['platform']}: prompt {doc['prompt_len']} tokens, "
        f"{doc['gen_len']} generated ("
        + (
            "every FPGA row simulated, the GPU row from its batch-1 model)"
            if any(r.get("gpu") for r in doc["rows"])
            else "every row simulated)"
        ),
        "",
        table(header, rows),
    ]
    for s in doc["speedups"]:
        dec = "" if s["decode_speedup"] is None else f", decode {s['decode_speedup']:.2f}x"
        energy = s.get("energy_per_token_ratio")
        eff = "" if energy is None else f", energy per token {energy:.2f}x"
        lines.append(
            f"{s['spatial']} over {s['versus']} on {s['cards']} card(s): prefill "
            f"{s['prefill_speedup']:.2f}x{dec}{eff}"
        )
    lines.append("energy: spatialsim/costmodel/power.py (coefficients cited or marked assumptions)")
    gpu = next((r["gpu"] for r in doc["rows"] if r.get("gpu")), None)
    if gpu is not None:
        k = gpu["kernels_per_step"]
        basis = (
            f"its parameters fitted to your runs ({gpu['calibration']})"
            if gpu.get("calibration")
            else "datasheet peaks and the assumptions of spatialsim/analytical/gpu.py "
            "(--gpu-param or --gpu-calibration replaces them), not a measurement"
        )
        lines.append(
            f"GPU: {gpu['gpu']} at batch 1, {gpu['mode']} ({k['decode']} kernels per decode "
            f"step), {gpu['precision']}: {basis}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from spatialsim.experiment.compare import compare
    from spatialsim.report.compare_plot import compare_figure

    designs = tuple(d.strip() for d in args.designs.split(",") if d.strip())
    if not designs:
        raise UserError(f"--designs {args.designs!r} names no design")
    if args.json and args.json != "-":
        check_writable(args.json)
    req = request_from_args(args, args.prompt_len, args.gen_len)
    report = compare(
        req, designs=designs, cards=args.cards, progress=progress_bar(), gpu=args.gpu,
        gpu_mode=args.gpu_mode, gpu_precision=args.gpu_precision,
        gpu_params=args.gpu_param, gpu_calibration=args.gpu_calibration,
    )  # fmt: skip
    doc = report.to_json()
    text = _text(doc)
    from spatialsim.report.pages import REPORT, compare_page

    with atomic_folder(args.out, owns=(*OUT_FILES, "plots"), command="compare") as tmp:
        (tmp / "compare.json").write_text(json_text(doc), encoding="utf-8")
        (tmp / "compare.txt").write_text(text + "\n", encoding="utf-8")
        compare_figure(doc, tmp / "compare.png")
        (tmp / REPORT).write_text(compare_page(tmp), encoding="utf-8")
    if args.json:
        emit_json(doc, args.json)
        if args.json == "-":
            return 0
    print(text)
    names = ", ".join(str(Path(args.out) / n) for n in OUT_FILES)
    print(f"\nwrote {names}")
    return 0
