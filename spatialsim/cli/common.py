"""Options shared by several subcommands and building a design from them."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from spatialsim.design.fileio import load_design
from spatialsim.design.graph import Design
from spatialsim.design.overrides import apply_overrides
from spatialsim.design.templates import DESIGNS, build_design
from spatialsim.errors import UserError
from spatialsim.hardware.platform import BUILTIN_PLATFORMS, Platform, get_platform
from spatialsim.workload.models import MODELS, ModelConfig, get_model

DEFAULT_MODEL = "gpt2-medium"
DEFAULT_PLATFORM = "u280"
DEFAULT_PROMPT = 128


def _number(text: str, cast: type, what: str, positive: bool) -> float:
    """Parse an argparse number, refusing values below the allowed range."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
    return value  # type: ignore[no-any-return]


def positive_int(text: str) -> int:
    return int(_number(text, int, "a positive integer", positive=True))


def nonneg_int(text: str) -> int:
    return int(_number(text, int, "an integer >= 0", positive=False))


def positive_float(text: str) -> float:
    return _number(text, float, "a positive number", positive=True)


def nonneg_float(text: str) -> float:
    return _number(text, float, "a number >= 0", positive=False)


def add_json_option(p: argparse.ArgumentParser, what: str = "JSON") -> None:
    p.add_argument("--json", metavar="PATH", help=f"write {what} to PATH, or '-' for stdout")


def add_design_options(p: argparse.ArgumentParser, default_design: str) -> None:
    p.add_argument("--model", default=None,
                   help=f"built-in model ({', '.join(MODELS)}) or path to a Hugging Face "
                        f"config.json (default: {DEFAULT_MODEL})")
    p.add_argument("--platform", default=DEFAULT_PLATFORM,
                   help=f"built-in platform ({', '.join(BUILTIN_PLATFORMS)}) or a platform "
                        f".toml file (default: {DEFAULT_PLATFORM})")
    p.add_argument("--design", default=default_design,
                   help=f"design template ({', '.join(DESIGNS)}) or a design .toml file "
                        f"(default: {default_design})")
    p.add_argument("--max-seq-len", type=positive_int, default=None,
                   help="longest sequence the design is built to hold (sizes the KV buffers "
                        "and the FFN bypass; default: prompt + generated tokens)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V",
                   help="override a design parameter: kernel.<name>.<param>=<value>, "
                        "fifo.<name>.depth=<words>, design.clock_mhz=<MHz> (repeatable)")


def resolve(args: argparse.Namespace, seq_len: int) -> tuple[ModelConfig, Platform, Design]:
    """Model, platform and design (template or file, with ``--set`` applied)."""
    platform = get_platform(args.platform)
    spec = args.design
    if spec in DESIGNS:
        model = get_model(args.model or DEFAULT_MODEL)
        max_seq = args.max_seq_len or seq_len
        design = build_design(spec, model, max_seq)
    elif spec.endswith(".toml") or Path(spec).exists():
        if not Path(spec).exists():
            raise UserError(f"design file {spec!r} does not exist")
        design = load_design(Path(spec))
        model = design.model
        if args.model is not None and args.model != model.name:
            raise UserError(f"--model {args.model} does not match design file {spec}, which "
                            f"was built for {model.name}")
    else:
        raise UserError(f"unknown design {spec!r}; valid: {', '.join(DESIGNS)} "
                        "(or a path to a design .toml file)")
    design = apply_overrides(design, args.overrides)
    if seq_len > design.max_seq_len:
        raise UserError(f"sequence length {seq_len} exceeds the design's max_seq_len "
                        f"{design.max_seq_len}; rebuild with --max-seq-len {seq_len}")
    if seq_len > model.max_positions:
        raise UserError(f"sequence length {seq_len} exceeds {model.name}'s context of "
                        f"{model.max_positions} positions")
    return model, platform, design
