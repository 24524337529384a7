"""GPUs for the baseline a design must beat: datasheet peaks, loaded from TOML.

A GPU file gives the card's memory, its peak memory bandwidth, its dense FP16/BF16 and
INT8 tensor throughput and its maximum board power, each with its source in ``[sources]``
(the built-in ones: ``data/gpu/*.toml``, from NVIDIA's datasheets). These are peaks: what a
batch-1 run reaches of them is the GPU model's business (spatialsim/analytical/gpu.py).
Unknown keys, missing keys, non-finite numbers and numbers outside RANGES are refused,
naming the file and the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from spatialsim.errors import UserError, choices_message
from spatialsim.tomlio import builtin_text, parse_toml, read_toml

BUILTIN_GPUS = ("a100-40gb", "a100-80gb", "h100-sxm", "l4")

# field -> (low, high, unit): wide enough for any accelerator card announced, narrow
# enough that nothing derived divides by almost zero
RANGES: dict[str, tuple[float, float, str]] = {
    "memory_gb": (1, 10_000, "GB"),
    "bandwidth_gbps": (1, 1_000_000, "GB/s"),
    "fp16_tflops": (0.1, 100_000, "TFLOPS"),
    "int8_tops": (0.1, 200_000, "TOPS"),
    "tdp_w": (1, 10_000, "W"),
}


@dataclass(frozen=True)
class Gpu:
    """One GPU's datasheet peaks (dense tensor throughput, no sparsity)."""

    name: str
    memory_gb: float
    bandwidth_gbps: float
    fp16_tflops: float
    int8_tops: float
    tdp_w: float
    sources: dict[str, str] = field(default_factory=dict, compare=False)


def gpu_from_dict(doc: dict[str, Any], origin: str) -> Gpu:
    """A :class:`Gpu` from a parsed file; every field checked, naming ``origin``."""
    allowed = {"name", "sources", *RANGES}
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise UserError(
            f"{origin}: unknown field {unknown[0]!r}; valid: {', '.join(sorted(allowed))}"
        )
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise UserError(
            f"{origin}: field 'name' must be a short text naming the GPU, got {name!r:.40}"
        )
    values: dict[str, float] = {}
    for key, (lo, hi, unit) in RANGES.items():
        value = doc.get(key)
        if value is None:
            raise UserError(f"{origin}: field {key!r} is missing ({unit}, {lo:g} to {hi:g})")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(
                f"{origin}: field {key!r} must be a number of {unit}, got {value!r:.40}"
            )
        if not math.isfinite(value) or not lo <= value <= hi:
            raise UserError(
                f"{origin}: field {key!r} = {value!r}: expected {unit} from {lo:g} to {hi:g}"
            )
        values[key] = float(value)
    sources = doc.get("sources", {})
    if not isinstance(sources, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in sources.items()
    ):
        raise UserError(f"{origin}: [sources] must map field names to texts")
    return Gpu(name=name.strip(), sources=dict(sources), **values)


@cache
def _builtin(name: str) -> Gpu:
    origin = f"built-in GPU {name}"
    return gpu_from_dict(
        parse_toml(builtin_text("spatialsim.hardware", f"gpu/{name}.toml"), origin), origin
    )


def get_gpu(spec: str) -> Gpu:
    """A built-in GPU by name, or a user's GPU file (.toml) by path."""
    if spec in BUILTIN_GPUS:
        return _builtin(spec)
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            raise UserError(f"GPU file {str(path)!r} does not exist")
        return gpu_from_dict(read_toml(path, "GPU file"), str(path))
    raise UserError(choices_message("gpu", spec, BUILTIN_GPUS) + " (or a path to a GPU .toml file)")
