"""``spatialsim analyze``: the paper's analytical model for a design, or the balance search."""

from __future__ import annotations

import argparse
from typing import Any

from spatialsim.cli.commands import HELP
from spatialsim.cli.common import (
    DEFAULT_MODEL,
    add_design_options,
    add_json_option,
    add_length_options,
    positive_float,
    positive_int,
    request_from_args,
)
from spatialsim.hardware.platform import get_platform
from spatialsim.report.text import emit_json, table
from spatialsim.workload.models import get_model


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "analyze",
        help=HELP["analyze"],
        description="Evaluate the analytical model of Chen et al. 2024 for a design: prefill "
        "latency (Eq. 8), decode latency per token (Eq. 9), the constraints of "
        "Eqs. 2-7, and the multi-FPGA form (Eqs. 13, 14). With --balance, search "
        "the largest work-balanced W4A8 design that fits (Eqs. 10-12).",
    )
    add_design_options(p)
    add_length_options(p)  # decode is evaluated at contexts l .. l+G-1 and averaged
    p.add_argument(
        "--clock-mhz",
        type=positive_float,
        default=None,
        help="achieved kernel clock (default: the design's, 250 MHz for chen2024)",
    )
    p.add_argument("--tp", type=positive_int, default=1, help="tensor-parallel FPGAs (p1)")
    p.add_argument(
        "--strict",
        action="store_true",
        help=f"exit with status {STRICT_EXIT} when any constraint is exceeded (for scripts)",
    )
    p.add_argument("--pp", type=positive_int, default=1, help="pipeline-parallel FPGAs (p2)")
    p.add_argument(
        "--link-gbps",
        type=positive_float,
        default=None,
        help="device-to-device link rate B in Gb/s (default: one QSFP28 port of the platform, 100)",
    )
    p.add_argument(
        "--link-efficiency",
        type=positive_float,
        default=1.0,
        help="alpha, achieved fraction of the link rate (default 1.0: ideal link)",
    )
    p.add_argument(
        "--balance",
        action="store_true",
        help="search the best work-balanced W4A8 M for --model on --platform",
    )
    p.add_argument(
        "--resident-layers",
        type=positive_int,
        default=1,
        help="layers resident on one FPGA, C (with --balance; default 1)",
    )
    add_json_option(p)
    p.set_defaults(func=run)


STRICT_EXIT = 4  # analyze --strict: a constraint is exceeded


def run(args: argparse.Namespace) -> int:
    if args.balance:
        return _run_balance(args)
    from spatialsim.experiment.session import analyze

    req = request_from_args(args, args.prompt_len, args.gen_len)
    report = analyze(
        req, tp=args.tp, pp=args.pp, link_gbps=args.link_gbps, link_efficiency=args.link_efficiency
    )
    result = report.to_json()
    exceeded = [
        f"{ph}: {name}"
        for ph, cs in result["constraints"].items()
        for name, c in cs.items()
        if not c["ok"]
    ]
    if args.json:
        emit_json(result, args.json)
    else:
        _print(result, report.prefill.stages, report.decode.stages)
        if exceeded:
            print(
                f"\n{len(exceeded)} constraint(s) EXCEEDED: {', '.join(exceeded)}. The model "
                "reports them, it does not refuse the design"
                + ("; --strict exits with status 4." if not args.strict else ".")
            )
    return STRICT_EXIT if args.strict and exceeded else 0


def _print(r: dict[str, Any], pre: dict[str, float], dec: dict[str, float]) -> None:
    par = f", TP {r['tp']} x PP {r['pp']}" if r["tp"] * r["pp"] > 1 else ""
    print(
        f"{r['model']} on {r['platform']} with {r['design']} at {r['clock_mhz']:g} MHz, "
        f"{r['layers']} layers, prompt {r['prompt_len']} tokens{par}"
    )
    print(f"  prefill (Eq. 8)          {r['prefill_ms']:10.3f} ms   bound by {r['bound']}")
    print(
        f"  decode per token (Eq. 9) {r['decode_ms_per_token']:10.3f} ms   bound by "
        f"{r['decode']['bound']} (context {r['decode']['contexts'][0]}"
        f"{'..' + str(r['decode']['contexts'][1]) if r['gen_len'] > 1 else ''})"
    )
    print()
    rows = [["K/V sync (outside max)", r["prefill"]["sync_cycles"], r["decode"]["sync_cycles"]]]
    rows += [[name, pre[name], dec[name]] for name in pre]
    print(table(["term (cycles per layer)", "prefill", "decode"], rows))
    print()
    rows = []
    for ph, cs in r["constraints"].items():
        for name, c in cs.items():
            rows.append(
                [
                    f"{ph}: {name}",
                    c["demand"],
                    c["capacity"],
                    c["unit"],
                    f"{c['utilization']:.1%}",
                    "ok" if c["ok"] else "EXCEEDED",
                ]
            )
    print(table(["constraint", "demand", "capacity", "unit", "use", ""], rows))


def _run_balance(args: argparse.Namespace) -> int:
    from spatialsim.analytical.balance import balance

    model = get_model(args.model or DEFAULT_MODEL)
    platform = get_platform(args.platform)
    clock = args.clock_mhz or platform.kernel_clock_mhz
    res = balance(model, platform, args.prompt_len, clock, args.resident_layers)
    data = {"model": model.name, "platform": platform.name, **res.to_json()}
    if args.json:
        emit_json(data, args.json)
        return 0
    print(
        f"Work-balanced W4A8 design for {model.name} on {platform.name} at {clock:g} MHz, "
        f"l = {args.prompt_len}, C = {args.resident_layers} (Eqs. 10-12)"
    )
    print(f"  best M = {res.m:g} MAC/cycle per q/k/v/p kernel; M_a = M l/d, M_f = M d_FFN/d:")
    print("  " + ", ".join(f"M_{k} = {v:,.1f}" for k, v in res.rates.items()))
    where = "kept on chip" if res.weights_on_chip else "streamed from off-chip memory"
    channels = ", ".join(f"{k} {v}" for k, v in res.channels.items())
    print(
        f"  weights are {where}"
        + ("" if res.weights_on_chip else f"; channels per operator: {channels}")
    )
    print()
    print(
        table(
            ["constraint at best M", "demand", "capacity", "unit", "use"],
            [[c.name, c.demand, c.capacity, c.unit, f"{c.utilization:.1%}"] for c in res.checks],
        )
    )
    print()
    if res.binding is not None:
        print(
            f"  The search stops at M = {res.next_m:g}: '{res.binding.name}' would need "
            f"{res.binding.demand:,.1f} {res.binding.unit} of {res.binding.capacity:,.1f} "
            f"({res.binding.detail})."
        )
    print(
        f"  Eq. 11 prefill: {res.prefill_seconds * 1e3:.3f} ms; Eq. 9 decode: "
        f"{res.decode_seconds * 1e3:.3f} ms per token."
    )
    print(
        "  Routing and timing closure lower what is reachable: at 250 MHz one U280 SLR fits "
        "about three 8x16 arrays (Chen 2024 clocks)."
    )
    return 0
