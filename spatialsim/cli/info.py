"""``spatialsim models``, ``platforms`` and ``design``: look at and export the descriptions."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from spatialsim import defaults
from spatialsim.cli.commands import HELP
from spatialsim.cli.common import (
    DEFAULT_PROMPT,
    add_design_options,
    add_json_option,
    output_path,
    positive_int,
    resolve,
)
from spatialsim.design.fileio import dumps_design
from spatialsim.design.resources import RESOURCES, check_fit, estimate
from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_write_text
from spatialsim.hardware.platform import BUILTIN_PLATFORMS, builtin_platform_text, get_platform
from spatialsim.report.text import emit_json, table
from spatialsim.tomlio import read_text
from spatialsim.workload.models import MODELS, get_model
from spatialsim.workload.operators import Precision, layer_operators

PRECISIONS = {"w4a8": Precision(4, 8), "w8a8": Precision(8, 8)}
DEFAULT_PRECISION = defaults.DESIGN.removeprefix("chen2024-")  # the default design's


def _kv(model: Any) -> str:
    """Grouped-query attention's K/V heads, when there are fewer than query heads."""
    return f" (K/V: {model.kv_heads} heads)" if model.kv_heads < model.heads else ""


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "models",
        help=HELP["models"],
        description="List the built-in model shapes, or show one model (or a "
        "Hugging Face config.json) with its per-layer operators.",
    )
    p.add_argument("name", nargs="?", help="model name or path to a config.json")
    p.add_argument("--phase", choices=("prefill", "decode"), default="prefill")
    p.add_argument(
        "--tokens",
        type=positive_int,
        default=DEFAULT_PROMPT,
        help="prompt length (prefill) or context (decode) for the operator list "
        f"(default {DEFAULT_PROMPT})",
    )
    p.add_argument(
        "--precision",
        choices=tuple(PRECISIONS),
        default=DEFAULT_PRECISION,
        help=f"weight and activation bits (default {DEFAULT_PRECISION}, the default design's, "
        f"{defaults.DESIGN})",
    )
    add_json_option(p)
    p.set_defaults(func=run_models)

    p = sub.add_parser(
        "platforms",
        help=HELP["platforms"],
        description="List the built-in FPGA platforms, or show one platform "
        "(built-in name or .toml file) with the source of each "
        "number. --toml prints a built-in file to start your own.",
    )
    p.add_argument("name", nargs="?", help="platform name or path to a .toml file")
    p.add_argument("--toml", action="store_true", help="print the built-in platform file")
    add_json_option(p)
    p.set_defaults(func=run_platforms)

    p = sub.add_parser(
        "design",
        help=HELP["design"],
        description="Build a design from a template (or load a design file), "
        "apply --set overrides, check that it fits the platform, "
        "and show it. --out writes it as an editable TOML file "
        "that loads back exactly.",
    )
    add_design_options(p)
    p.add_argument(
        "--seq-len",
        type=positive_int,
        default=defaults.SEQ_LEN,
        help="sequence length the design must hold (default "
        f"{defaults.SEQ_LEN}: the default prompt and generated tokens)",
    )
    p.add_argument(
        "--out", type=output_path, metavar="FILE", help="write the design to a .toml file"
    )
    add_json_option(p, "resource JSON")
    p.set_defaults(func=run_design)


def run_models(args: argparse.Namespace) -> int:
    if args.name is None:
        rows = [
            [
                m.name,
                m.layers,
                m.hidden,
                m.heads,
                m.head_dim,
                m.ffn,
                m.vocab,
                m.max_positions,
                m.norm,
                m.ffn_kind,
            ]
            for m in MODELS.values()
        ]
        if args.json:
            emit_json({m.name: dataclasses.asdict(m) for m in MODELS.values()}, args.json)
        else:
            print(
                table(
                    [
                        "model",
                        "layers",
                        "hidden",
                        "heads",
                        "head_dim",
                        "ffn",
                        "vocab",
                        "positions",
                        "norm",
                        "ffn kind",
                    ],
                    rows,
                )
            )
        return 0
    model = get_model(args.name)
    if args.tokens > model.max_positions:
        raise UserError(
            f"--tokens {args.tokens:,} exceeds {model.name}'s context of "
            f"{model.max_positions:,} positions"
        )
    precision = PRECISIONS[args.precision]
    ops = layer_operators(model, args.phase, args.tokens, precision)
    if args.json:
        emit_json(
            {
                "model": dataclasses.asdict(model),
                "phase": args.phase,
                "tokens": args.tokens,
                "precision": dataclasses.asdict(precision),
                "operators": [dataclasses.asdict(o) for o in ops],
            },
            args.json,
        )
        return 0
    print(
        f"{model.name}: {model.layers} layers, d = {model.hidden}, {model.heads} heads x "
        f"{model.head_dim}{_kv(model)}, FFN {model.ffn} ({model.ffn_kind}), "
        f"{model.norm}-norm ({model.norm_kind}), {model.positions} positions"
        f"{'' if model.rope_theta is None else f' (base {model.rope_theta:g})'}"
        f"{', tied embeddings' if model.tied_embeddings else ''} [{model.source}]"
    )
    what = f"prompt of {args.tokens}" if args.phase == "prefill" else f"context {args.tokens}"
    print(f"one layer, {args.phase} ({what}), {args.precision.upper()}:")
    print(
        table(
            ["operator", "kind", "MACs", "elements", "weight B", "in B", "out B", "KV B"],
            [
                [
                    o.name,
                    o.kind,
                    o.macs,
                    o.elements,
                    o.weight_bytes,
                    o.input_bytes,
                    o.output_bytes,
                    o.kv_bytes,
                ]
                for o in ops
            ],
        )
    )
    return 0


def run_platforms(args: argparse.Namespace) -> int:
    if args.name is None:
        rows = []
        for name in BUILTIN_PLATFORMS:
            p = get_platform(name)
            mem = []
            if p.hbm:
                mem.append(f"HBM {p.hbm.channels} ch")
            if p.ddr:
                mem.append(f"DDR {p.ddr.channels} ch")
            rows.append(
                [
                    name,
                    p.part,
                    len(p.slrs),
                    p.total("dsp"),
                    p.total("lut"),
                    p.total("bram36"),
                    p.total("uram"),
                    ", ".join(mem),
                ]
            )
        print(table(["platform", "part", "SLRs", "DSP", "LUT", "BRAM36", "URAM", "memory"], rows))
        return 0
    if args.toml:
        if args.name not in BUILTIN_PLATFORMS:
            print(read_text(Path(args.name), "platform file"), end="")
        else:
            print(builtin_platform_text(args.name), end="")
        return 0
    p = get_platform(args.name)
    data = dataclasses.asdict(p)
    if args.json:
        emit_json(data, args.json)
        return 0
    print(f"{p.name}: {p.description} ({p.part}); kernel clock {p.kernel_clock_mhz:g} MHz")
    rows = []
    for section in ("slrs", "reserved", "hbm", "ddr", "pcie", "links", "aie"):
        value = data[section]
        if value is None:
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            label = f"slr {item['name']}" if section == "slrs" else section
            key = "slr" if section == "slrs" else section
            for field, v in item.items():
                if field == "name":
                    continue
                src = p.sources.get(f"{key}.{field}") or p.sources.get(key, "")
                rows.append([f"{label}.{field}", v, src])
    print(table(["field", "value", "source"], rows))
    return 0


def run_design(args: argparse.Namespace) -> int:
    _, platform, design = resolve(args, args.seq_len)
    check_fit(design, platform)
    if args.out:
        atomic_write_text(Path(args.out), dumps_design(design))
        print(f"wrote {args.out}")
    reports = {b: estimate(design, b) for b in design.bitstreams}
    if args.json:
        emit_json(
            {
                b: {
                    "slrs": {f"SLR{s}": v for s, v in r.slrs.items()},
                    "total": r.total,
                    "kernels": r.kernels,
                    "fifos": r.fifos,
                }
                for b, r in reports.items()
            },
            args.json,
        )
        return 0
    print(
        f"{design.name} for {design.model.name} (max_seq_len {design.max_seq_len}, "
        f"{design.clock_mhz:g} MHz): {design.description}"
    )
    phases = ", ".join(
        f"{ph}: bitstream '{b.bitstream}', {b.tokens_per_pack} token(s)/pack"
        for ph, b in design.phases.items()
    )
    print(f"phases: {phases}")
    for bname, g in design.bitstreams.items():
        print(f"\nbitstream '{bname}': kernels")
        rep = reports[bname]
        rows = []
        for n, a in g.nodes(data=True):
            shown = {k: v for k, v in a.items() if k not in ("kind", "slr")}
            params = " ".join(
                f"{k}={','.join(v) if isinstance(v, tuple) else v}" for k, v in shown.items()
            )
            rows.append(
                [
                    n,
                    a["kind"],
                    f"SLR{a['slr']}",
                    rep.kernels[n]["dsp"],
                    rep.kernels[n]["lut"],
                    params,
                ]
            )
        print(table(["kernel", "kind", "slr", "DSP", "LUT", "parameters"], rows))
        print(f"\nbitstream '{bname}': FIFOs")
        print(
            table(
                ["fifo", "from", "to", "depth", "width", "storage"],
                [
                    [
                        a["name"],
                        s,
                        t,
                        a["depth_words"],
                        a["width_bits"],
                        _storage(rep.fifos[a["name"]]),
                    ]
                    for s, t, a in g.edges(data=True)
                ],
            )
        )
        print(f"\nbitstream '{bname}': resources against {platform.name}")
        rows = []
        for slr, used in rep.slrs.items():
            cap = platform.slrs[slr]
            rows.append(
                [cap.name]
                + [
                    f"{used[r]:,.0f} / {getattr(cap, r):,} ({used[r] / getattr(cap, r):.0%})"
                    for r in RESOURCES
                ]
            )
        print(table(["SLR"] + [r.upper() for r in RESOURCES], rows))
    return 0


def _storage(res: dict[str, float]) -> str:
    if res["uram"]:
        return f"URAM x{res['uram']:.0f}"
    if res["bram36"]:
        return f"BRAM36 x{res['bram36']:.0f}"
    return "shift register"
