"""``spatialsim run`` and ``spatialsim demo``: simulate prefill and decode of a design."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from spatialsim.analytical.latency import estimate_phase
from spatialsim.calibration.fit import apply as apply_values
from spatialsim.calibration.profile import Profile, propagate
from spatialsim.calibration.profile import load as load_profile
from spatialsim.cli.common import (
    DEFAULT_PROMPT,
    add_design_options,
    add_json_option,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
    resolve,
)
from spatialsim.cli.progress import progress_bar
from spatialsim.costmodel.params import CostParams
from spatialsim.design.footprint import footprint_warnings
from spatialsim.design.graph import Design
from spatialsim.design.resources import check_fit
from spatialsim.engine.kernels import Granularity
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_write_text
from spatialsim.hardware.platform import Platform
from spatialsim.metrics.result import RunResult
from spatialsim.report.perfetto import perfetto_trace
from spatialsim.report.run_summary import summary_text
from spatialsim.report.text import emit_json, json_text

RUN_DESIGN = "chen2024-w8a8"
DEMO: dict[str, str] = {"model": "gpt2-medium", "platform": "u280", "design": "chen2024-w8a8"}
DEMO_PROMPT, DEMO_GEN = 64, 16
DEMO_OUT = "spatialsim-demo"


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "run", help="simulate prefill and decode (kernels, FIFOs, HBM) and report stalls",
        description="Simulate a spatial design cycle-approximately: every kernel is a process "
                    "linked by bounded FIFOs, weights stream from HBM channels, the host "
                    "launches one layer at a time. Reports time to first token (prefill), "
                    "time per generated token, and where each kernel's time went (busy, "
                    "starved, blocked, waiting on HBM).")
    add_design_options(p, RUN_DESIGN)
    p.add_argument("--prompt-len", type=positive_int, default=DEFAULT_PROMPT,
                   help=f"prompt tokens (default {DEFAULT_PROMPT})")
    p.add_argument("--gen-len", type=nonneg_int, default=16,
                   help="tokens to generate after the prompt (default 16; 0: prefill only)")
    _add_engine_options(p)
    p.set_defaults(func=run)

    d = sub.add_parser(
        "demo", help="simulate the paper's GPT-2 design on the U280 and write a results folder",
        description=f"Simulate {DEMO['model']} on the {DEMO['platform']} with "
                    f"{DEMO['design']} (systolic prefill, GEMV decode): a "
                    f"{DEMO_PROMPT}-token prompt and {DEMO_GEN} generated "
                    f"tokens. Prints a summary and writes result.json and summary.txt.")
    d.add_argument("--out", default=DEMO_OUT,
                   help=f"results folder (default: ./{DEMO_OUT})")
    d.set_defaults(func=run_demo)


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layers", type=positive_int, default=None,
                   help="simulate only the first N layers (default: all of the model's)")
    p.add_argument("--clock-mhz", type=positive_float, default=None,
                   help="kernel clock (default: the design's, 250 MHz for chen2024)")
    p.add_argument("--granularity", choices=("coarse", "fine"), default="coarse",
                   help="coarse: transfers of a quarter row (fast, the default); fine: one "
                        "event per FIFO word (small designs only)")
    p.add_argument("--chunks-per-row", type=positive_int, default=4,
                   help="pieces a row is cut into in coarse mode (default 4)")
    p.add_argument("--every-layer", action="store_true",
                   help="simulate every layer launch instead of replaying the identical "
                        "layers of a step (same results, slower; for checking)")
    p.add_argument("--launch-overhead-us", type=nonneg_float, default=None,
                   help="host time to launch one layer's kernels (default 0: not "
                        "characterised; calibrate it from board runs)")
    p.add_argument("--cost", action="append", default=[], metavar="NAME=VALUE",
                   help="set a cost-model constant (repeatable): "
                        + ", ".join(f.name for f in dataclasses.fields(CostParams))
                        + " (docs/engine.md gives each default and its source)")
    p.add_argument("--calibration", metavar="PROFILE", default=None,
                   help="apply a calibration profile (a file from 'spatialsim calibrate', or "
                        "'u280' for the shipped one) and report 95 %% intervals propagated "
                        "from its parameter uncertainty")
    p.add_argument("--host-io", action="store_true",
                   help="add PCIe transfers: prompt activations in, hidden state out, and "
                        "one token's activations each way per decode step")
    p.add_argument("--no-timing", action="store_true",
                   help="leave the host wall time out of the JSON (wall_s: null), so "
                        "identical runs give byte-identical files")
    add_json_option(p, "the result JSON")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write DIR/result.json, DIR/summary.txt and DIR/trace.perfetto.json "
                        "(a timeline for ui.perfetto.dev; 'spatialsim plot DIR' draws it)")


def cost_params(items: list[str], base: CostParams | None = None) -> CostParams:
    """``NAME=VALUE`` pairs applied to ``base`` (the default cost-model constants)."""
    changes: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep:
            raise UserError(f"--cost {item!r}: expected NAME=VALUE")
        try:
            changes[name.strip()] = float(text)
        except ValueError:
            raise UserError(f"--cost {item!r}: {text!r} is not a number") from None
    return (base or CostParams()).replace(**changes)


def _user_params(args: argparse.Namespace, base: CostParams) -> CostParams:
    """``base`` with the user's --cost and --launch-overhead-us on top (they win over a
    calibration profile)."""
    params = cost_params(args.cost, base)
    if args.launch_overhead_us is not None:
        params = params.replace(launch_overhead_us=args.launch_overhead_us)
    return params


def _config(args: argparse.Namespace, prompt: int, gen: int, params: CostParams) -> RunConfig:
    gran = Granularity(None if args.granularity == "fine" else args.chunks_per_row)
    return RunConfig(prompt_len=prompt, gen_len=gen, layers=args.layers,
                     clock_mhz=args.clock_mhz, granularity=gran, params=params,
                     host_io=args.host_io, replay_layers=not args.every_layer,
                     timeline=bool(args.out))


def _analytical(design: Design, platform: Platform, result: RunResult) -> dict[str, Any]:
    """Eq. 8 / Eq. 9 for the same run, scaled to the simulated layers."""
    scale = result.layers / design.model.layers
    pre = estimate_phase(design, platform, "prefill", result.prompt_len, result.clock_mhz)
    out: dict[str, Any] = {"prefill_ms": pre.seconds * 1e3 * scale, "prefill_bound": pre.bound}
    if result.gen_len:
        contexts = range(result.prompt_len, result.prompt_len + result.gen_len)
        dec = [estimate_phase(design, platform, "decode", c, result.clock_mhz)
               for c in contexts]
        out["decode_ms_per_token"] = sum(d.seconds for d in dec) / len(dec) * 1e3 * scale
        out["decode_bound"] = dec[0].bound
    else:
        out["decode_ms_per_token"] = None
    return out


def simulate_cli(args: argparse.Namespace, prompt: int, gen: int) -> tuple[RunResult,
                                                                           dict[str, Any]]:
    """Resolve the design, simulate it and assemble the JSON document."""
    model, platform, design = resolve(args, prompt + gen)
    check_fit(design, platform)
    clock = args.clock_mhz or design.clock_mhz
    if clock > platform.max_clock_mhz:
        raise UserError(f"--clock-mhz {clock:g} is above {platform.name}'s fabric ceiling of "
                        f"{platform.max_clock_mhz:g} MHz")
    raw_platform = platform
    profile = None
    base = CostParams()
    if getattr(args, "calibration", None):
        profile = load_profile(args.calibration)
        if profile.platform != platform.name:
            raise UserError(f"--calibration {args.calibration} was fitted on "
                            f"{profile.platform}, but --platform is {platform.name}")
        base, platform = profile.apply(base, platform)
        design = profile.apply_design(design)
    config = _config(args, prompt, gen, _user_params(args, base))
    result = simulate(design, platform, config, progress_bar())
    doc = result.to_json()
    if args.no_timing:
        doc["wall_s"] = None
    doc["model_layers"] = model.layers
    doc["analytical"] = _analytical(design, platform, result)
    doc["warnings"] = footprint_warnings(design, platform, model.layers, prompt + gen)
    if profile is not None:
        doc["calibration"] = _uncertainty(profile, args, design, raw_platform, config,
                                          result)
    return result, doc


def _uncertainty(profile: Profile, args: argparse.Namespace, design: Design,
                 raw_platform: Platform, config: RunConfig,
                 result: RunResult) -> dict[str, Any]:
    """95 % intervals of TTFT and TPOT from the profile's parameter covariance."""

    def outputs(values: dict[str, float]) -> list[float]:
        cost, plat = apply_values(values, CostParams(), raw_platform)
        r = simulate(design, plat, dataclasses.replace(config,
                                                       params=_user_params(args, cost)))
        return [r.ttft_ms, r.tpot_ms or 0.0]

    sig_ttft, sig_tpot = propagate(profile, outputs)
    out: dict[str, Any] = {"profile": args.calibration, "parameters": profile.values,
                           "ttft_ms_stderr": sig_ttft,
                           "ttft_ms_ci95": [result.ttft_ms - 1.96 * sig_ttft,
                                            result.ttft_ms + 1.96 * sig_ttft]}
    if result.tpot_ms is not None:
        out["tpot_ms_stderr"] = sig_tpot
        out["tpot_ms_ci95"] = [result.tpot_ms - 1.96 * sig_tpot,
                               result.tpot_ms + 1.96 * sig_tpot]
    return out


def _write_outputs(out: str, doc: dict[str, Any], text: str,
                   result: RunResult) -> list[Path]:
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    paths = [folder / "result.json", folder / "summary.txt", folder / "trace.perfetto.json"]
    atomic_write_text(paths[0], json_text(doc))
    atomic_write_text(paths[1], text + "\n")
    atomic_write_text(paths[2], json.dumps(perfetto_trace(result), separators=(",", ":")))
    return paths


def run(args: argparse.Namespace) -> int:
    result, doc = simulate_cli(args, args.prompt_len, args.gen_len)
    text = summary_text(doc)
    paths = _write_outputs(args.out, doc, text, result) if args.out else []
    if args.json:
        emit_json(doc, args.json)
        if args.json == "-":
            return 0
        paths.append(Path(args.json))
    print(text)
    if paths:
        print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    ns = argparse.Namespace(
        model=DEMO["model"], platform=DEMO["platform"], design=DEMO["design"],
        max_seq_len=None, overrides=[], layers=None, clock_mhz=None,
        granularity="coarse", chunks_per_row=4, every_layer=False, launch_overhead_us=None,
        cost=[], calibration=None,
        host_io=False, no_timing=False, json=None, out=args.out)
    result, doc = simulate_cli(ns, DEMO_PROMPT, DEMO_GEN)
    text = summary_text(doc)
    paths = _write_outputs(args.out, doc, text, result)
    print(text)
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 0
