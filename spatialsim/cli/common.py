"""Options shared by several subcommands and building a design from them."""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any

from spatialsim.constants import PP_SCHEDULES
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.power import PowerParams
from spatialsim.design.graph import Design
from spatialsim.design.templates import DESIGNS
from spatialsim.experiment.request import (
    DEFAULT_DESIGN,
    DEFAULT_GEN,
    DEFAULT_MODEL,
    DEFAULT_PLATFORM,
    DEFAULT_PROMPT,
    GRANULARITIES,
    RunRequest,
)
from spatialsim.hardware.cluster import TOPOLOGIES
from spatialsim.hardware.platform import BUILTIN_PLATFORMS, Platform
from spatialsim.workload.models import MODELS, ModelConfig

__all__ = [
    "DEFAULT_DESIGN",
    "DEFAULT_GEN",
    "DEFAULT_MODEL",
    "DEFAULT_PLATFORM",
    "DEFAULT_PROMPT",
    "add_design_options",
    "add_engine_options",
    "add_json_option",
    "add_length_options",
    "request_from_args",
    "resolve",
]


def _number(text: str, cast: type, what: str, positive: bool) -> float:
    """Parse an argparse number, refusing values below the allowed range."""
    from spatialsim.tomlio import parse_decimal, parse_integer

    try:
        value = parse_integer(text) if cast is int else parse_decimal(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
    return value


def positive_int(text: str) -> int:
    return int(_number(text, int, "a positive integer", positive=True))


def nonneg_int(text: str) -> int:
    return int(_number(text, int, "an integer >= 0", positive=False))


def positive_float(text: str) -> float:
    return _number(text, float, "a positive number", positive=True)


def nonneg_float(text: str) -> float:
    return _number(text, float, "a number >= 0", positive=False)


def output_path(text: str) -> str:
    """An output path given on the command line: not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("output path is empty: give a file name, or '-'")
    return text


def add_json_option(p: argparse.ArgumentParser, what: str = "JSON") -> None:
    p.add_argument(
        "--json",
        type=output_path,
        metavar="PATH",
        help=f"write {what} to PATH, or '-' for stdout",
    )


def add_design_options(p: argparse.ArgumentParser) -> None:
    """--model, --platform, --design (spatialsim.defaults), --max-seq-len and --set."""
    p.add_argument(
        "--model",
        default=None,
        help=f"built-in model ({', '.join(MODELS)}) or path to a Hugging Face "
        f"config.json (default: {DEFAULT_MODEL}, or the model a design file was built for)",
    )
    p.add_argument(
        "--platform",
        default=DEFAULT_PLATFORM,
        help=f"built-in platform ({', '.join(BUILTIN_PLATFORMS)}) or a platform "
        f".toml file (default: {DEFAULT_PLATFORM})",
    )
    p.add_argument(
        "--design",
        default=DEFAULT_DESIGN,
        help=f"design template ({', '.join(DESIGNS)}) or a design .toml file "
        f"(default: {DEFAULT_DESIGN})",
    )
    p.add_argument(
        "--max-seq-len",
        type=positive_int,
        default=None,
        help="longest sequence the design is built to hold (sizes the KV buffers "
        "and the FFN bypass; default: prompt + generated tokens)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="K=V",
        help="override a design parameter (repeatable): kernel.<name>.<param>=<value>, "
        "fifo.<name>.depth=<words> (or .width=<bits>), kind.<kind>.<param>=<value> "
        "(every kernel of a kind), design.<field>=<value> with field clock_mhz, "
        "hls_target_mhz, resident_layers, launch_scope (region|layer|step) or "
        "prompt_mode (packed|tokenwise)",
    )


def add_length_options(p: argparse.ArgumentParser, gen: bool = True) -> None:
    """--prompt-len and --gen-len with the shared defaults (spatialsim.defaults)."""
    p.add_argument(
        "--prompt-len",
        type=positive_int,
        default=DEFAULT_PROMPT,
        help=f"prompt tokens (default {DEFAULT_PROMPT})",
    )
    if gen:
        p.add_argument(
            "--gen-len",
            type=nonneg_int,
            default=DEFAULT_GEN,
            help=f"tokens generated after the prompt (default {DEFAULT_GEN}; 0: prefill only)",
        )


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """The simulation options every simulating command takes (run, demo's engine, replay)."""
    p.add_argument(
        "--layers",
        type=positive_int,
        default=None,
        help="simulate only the first N layers (default: all of the model's)",
    )
    p.add_argument(
        "--clock-mhz",
        type=positive_float,
        default=None,
        help="kernel clock (default: the design's, 250 MHz for chen2024)",
    )
    p.add_argument(
        "--granularity",
        choices=GRANULARITIES,
        default="coarse",
        help="coarse: transfers of a quarter row (fast, the default); fine: one "
        "event per FIFO word (small designs only)",
    )
    p.add_argument(
        "--chunks-per-row",
        type=positive_int,
        default=4,
        help="pieces a row is cut into in coarse mode (default 4)",
    )
    p.add_argument(
        "--every-layer",
        action="store_true",
        help="simulate every layer launch instead of replaying the identical "
        "layers of a step (same results, slower; for checking)",
    )
    p.add_argument(
        "--launch-overhead-us",
        type=nonneg_float,
        default=None,
        help="host time to launch one layer's kernels (default 0: not "
        "characterised; calibrate it from board runs)",
    )
    p.add_argument(
        "--cost",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a cost-model constant (repeatable): "
        + ", ".join(f.name for f in dataclasses.fields(CostParams))
        + " (docs/engine.md gives each default and its source)",
    )
    p.add_argument(
        "--power",
        action="append",
        metavar="NAME=VALUE",
        help="set a power-model coefficient for the energy report (repeatable): "
        + ", ".join(f.name for f in dataclasses.fields(PowerParams))
        + " (spatialsim/costmodel/power.py gives each default and its source)",
    )
    p.add_argument(
        "--calibration",
        metavar="PROFILE",
        default=None,
        help="apply a calibration profile (a file from 'spatialsim calibrate', or "
        "'u280' for the shipped one) and report 95 %% intervals propagated "
        "from its parameter uncertainty",
    )
    p.add_argument(
        "--host-io",
        action="store_true",
        help="add PCIe transfers: prompt activations in, hidden state out, and "
        "one token's activations each way per decode step",
    )


def add_parallel_options(p: argparse.ArgumentParser) -> None:
    """Several cards: tensor and pipeline parallelism and the links between the cards."""
    p.add_argument(
        "--tp",
        type=positive_int,
        default=1,
        help="tensor-parallel cards: each layer's heads and weight columns split over them, "
        "joined by all-reduces over the links (default 1)",
    )
    p.add_argument(
        "--pp",
        type=positive_int,
        default=1,
        help="pipeline stages: consecutive layers per stage, activations sent to the next "
        "stage over the links (default 1)",
    )
    p.add_argument(
        "--pp-schedule",
        choices=PP_SCHEDULES,
        default="streamed",
        help="streamed (default: each stage's layer streams into the next stage's over the "
        "links, as Eq. 13 assumes) or staged (a stage runs its layers, then hands the "
        "activations on)",
    )
    p.add_argument(
        "--topology",
        choices=TOPOLOGIES,
        default="ring",
        help="how the cards are cabled: ring (QSFP, default), p2p (every pair), host "
        "(through PCIe and host memory)",
    )
    p.add_argument(
        "--link-gbps",
        type=positive_float,
        default=None,
        help="line rate of one inter-card link in Gb/s (default: the platform's QSFP port)",
    )
    p.add_argument(
        "--link-depth",
        type=positive_int,
        default=64,
        help="receive buffer of each inter-card link FIFO in words (default 64)",
    )


def request_from_args(
    args: argparse.Namespace,
    prompt_len: int | None = None,
    gen_len: int | None = None,
    **fields: Any,
) -> RunRequest:
    """The request the parsed options describe (options a command lacks keep their
    defaults; ``fields`` win)."""
    get = vars(args).get
    values: dict[str, Any] = {
        "model": get("model"),
        "platform": get("platform", DEFAULT_PLATFORM),
        "design": get("design", DEFAULT_DESIGN),
        "max_seq_len": get("max_seq_len"),
        "set": tuple(get("overrides") or ()),
        "layers": get("layers"),
        "clock_mhz": get("clock_mhz"),
        "granularity": get("granularity", "coarse"),
        "chunks_per_row": get("chunks_per_row", 4),
        "every_layer": bool(get("every_layer", False)),
        "launch_overhead_us": get("launch_overhead_us"),
        "cost": tuple(get("cost") or ()),
        "calibration": get("calibration"),
        "host_io": bool(get("host_io", False)),
        "tp": get("tp", 1),
        "pp": get("pp", 1),
        "topology": get("topology", "ring"),
        "link_gbps": get("link_gbps"),
        "link_depth": get("link_depth", 64),
        "power": tuple(get("power") or ()),
        "pp_schedule": get("pp_schedule", "streamed"),
    }
    if prompt_len is not None:
        values["prompt_len"] = prompt_len
    if gen_len is not None:
        values["gen_len"] = gen_len
    values.update(fields)
    return RunRequest(**values)


def resolve(args: argparse.Namespace, seq_len: int) -> tuple[ModelConfig, Platform, Design]:
    """Model, platform and design (template or file, with ``--set`` applied)."""
    from spatialsim.experiment.session import resolve_design  # the engine, when used

    return resolve_design(request_from_args(args), seq_len)


def workers_count(text: str) -> int:
    """--workers: 1 to the usable cores (at least 2)."""
    from spatialsim.errors import UserError
    from spatialsim.executor import check_workers

    try:
        return check_workers(positive_int(text))
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("workers ")) from None


def scheduler_address(text: str) -> str:
    """--scheduler: tcp://HOST:PORT or tls://HOST:PORT (checked before any work)."""
    from spatialsim.errors import UserError
    from spatialsim.executor import check_scheduler

    try:
        check_scheduler(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("scheduler ")) from None
    return text


AUTO_WORKERS_HELP = (
    "auto: this process when the job is short, one worker per core when the rest of it "
    "would take over 4 s here"
)


def add_executor_options(p: argparse.ArgumentParser, what: str) -> None:
    """--workers N | --scheduler ADDR: where ``what`` (independent simulations) run."""
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=workers_count,
        default=None,
        help=f"local worker processes for {what} (default: {AUTO_WORKERS_HELP}; "
        "1 runs in this process; at most one per core)",
    )
    where.add_argument(
        "--scheduler",
        type=scheduler_address,
        metavar="ADDR",
        default=None,
        help=f"send {what} to an existing Dask scheduler, e.g. tcp://host:8786",
    )


def executor_args(args: argparse.Namespace) -> tuple[int | None, str | None]:
    """(workers, scheduler) from the options :func:`add_executor_options` added (workers
    None: the executor chooses, see :mod:`spatialsim.executor`)."""
    if args.scheduler is not None:  # an empty address is refused by the executor
        return 1, args.scheduler
    return args.workers, None
