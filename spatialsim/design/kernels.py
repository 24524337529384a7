"""Kernel kinds of a spatial design and the parameters each kind accepts.

Every node of a design graph has a ``kind`` from :data:`KINDS` and the parameters that kind
lists; the schema here validates them (type, range, allowed values) with messages that
name the kernel, the parameter, the bad value and what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from spatialsim.errors import UserError, choices_message

PORT_RE = re.compile(r"^(HBM|DDR)\[(\d+)\]$")


@dataclass(frozen=True)
class Param:
    """One kernel parameter: its type, an allowed range or set, and what it means."""

    type: type
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None


def _int(doc: str, low: int = 1, high: int = 1 << 30) -> Param:
    return Param(int, doc, low, high)


def _bits(doc: str) -> Param:
    return Param(int, doc, choices=(2, 4, 8, 16, 32))


_SLR = _int("super logic region the kernel is placed in", 0, 15)
_LANES = _int("parallel lanes (tokens of a pack processed per cycle)", 1, 256)
_PORTS = Param(list, "memory ports, one 'HBM[i]' or 'DDR[i]' binding per AXI master")
_PORT_BITS = Param(int, "AXI master data width in bits", choices=(32, 64, 128, 256, 512))
_FEATURES = _int("elements per token (row width) the kernel processes")
_RED_II = _int("initiation interval of fp32 reduction loops (fp-add latency bound)", 1, 64)

COMMON: dict[str, Param] = {"slr": _SLR}

KINDS: dict[str, dict[str, Param]] = {
    "loader": {
        "ports": _PORTS, "port_bits": _PORT_BITS, "lanes": _LANES, "features": _FEATURES,
        "quantize": Param(bool, "convert fp32 to int8 with a per-token scale"),
    },
    "writer": {"ports": _PORTS, "port_bits": _PORT_BITS, "lanes": _LANES,
               "features": _FEATURES},
    "splitter": {"lanes": _LANES, "features": _FEATURES,
                 "quantize": Param(bool, "quantise the copy sent to the next linear")},
    "linear": {
        "rows": _int("systolic array rows (tokens of a pack)", 1, 64),
        "cols": _int("systolic array PE columns", 1, 256),
        "pack": _int("MACs per DSP (weights packed per DSP word)", 1, 4),
        "in_features": _int("reduction length K"),
        "out_features": _int("output features N"),
        "weight_bits": _bits("weight bit width"),
        "act_bits": _bits("activation bit width"),
        "out_dtype": Param(str, "output type after re-quantisation", choices=("int8", "fp32")),
        "bias": Param(bool, "add an int16 bias before re-quantisation"),
        "block_overhead_cycles": _int("fill/drain cycles per output block beyond K", 0, 1024),
        "ports": _PORTS, "port_bits": _PORT_BITS,
    },
    "gemv": {
        "engines": _int("GEMV engines, each with its own memory port", 1, 64),
        "pes": _int("PEs per engine (one 16-bit weight pair each)", 1, 256),
        "pack": _int("MACs per DSP", 1, 4),
        "in_features": _int("reduction length K"),
        "out_features": _int("output features N"),
        "weight_bits": _bits("weight bit width"),
        "act_bits": _bits("activation bit width"),
        "out_dtype": Param(str, "output type after re-quantisation", choices=("int8", "fp32")),
        "ports": _PORTS, "port_bits": _PORT_BITS,
    },
    "attn_matmul": {
        "op": Param(str, "which product: Q.K^T ('qk') or softmax.V ('sv')", choices=("qk", "sv")),
        "rows": _int("systolic array rows (tokens of a pack)", 1, 64),
        "cols": _int("systolic array PE columns", 1, 256),
        "pack": _int("MACs per DSP", 1, 4),
        "heads": _int("attention heads"),
        "head_dim": _int("elements per head"),
        "act_bits": _bits("activation bit width"),
        "block_overhead_cycles": _int("fill/drain cycles per output block beyond K", 0, 1024),
    },
    "attn_gemv": {
        "op": Param(str, "which product: Q.K^T ('qk') or softmax.V ('sv')", choices=("qk", "sv")),
        "heads_parallel": _int("heads processed in parallel", 1, 128),
        "lanes": _int("MAC lanes per head (elements of a cached row per cycle)", 1, 1024),
        "heads": _int("attention heads"),
        "head_dim": _int("elements per head"),
        "act_bits": _bits("activation bit width"),
    },
    "kv_writer": {
        "target": Param(str, "which cache it fills", choices=("k", "v")),
        "ii": _int("initiation interval of the write loop", 1, 64),
        "features": _FEATURES,
        "max_seq_len": _int("tokens the cache holds"),
        "act_bits": _bits("cached element bit width"),
        "ports": Param(list, "memory port(s) holding every layer's cache off chip"),
        "port_bits": _PORT_BITS,
    },
    "buffer": {"features": _FEATURES, "lanes": _LANES},
    "mask": {"lanes": _LANES, "heads": _int("attention heads"),
             "heads_parallel": _int("heads processed side by side", 1, 128),
             "causal": Param(bool, "causal (decoder) mask rather than padding only")},
    "softmax": {"lanes": _LANES, "heads": _int("attention heads"), "reduction_ii": _RED_II,
                "heads_parallel": _int("heads processed side by side", 1, 128)},
    "layernorm": {"lanes": _LANES, "features": _FEATURES, "reduction_ii": _RED_II,
                  "norm": Param(str, "normalisation", choices=("layernorm", "rmsnorm"))},
    "activation": {"lanes": _LANES, "features": _FEATURES,
                   "fn": Param(str, "function", choices=("gelu", "silu_mul"))},
    "residual": {"lanes": _LANES, "features": _FEATURES},
}

# Kinds whose output is an on-chip buffer handed over whole when complete (a PIPO: K, V, Q),
# not a stream; the engine and the region estimates treat those edges alike.
HANDOFF_KINDS = ("kv_writer", "buffer")

# Kinds whose node is a matrix engine, and which attribute carries the phase-independent
# MAC rate; see :func:`macs_per_cycle`.
MATRIX_KINDS = ("linear", "gemv", "attn_matmul", "attn_gemv")


def check_param(kernel: str, kind: str, name: str, value: Any) -> Any:
    """Validate one parameter of ``kernel``; return it (lists become tuples)."""
    schema = {**COMMON, **KINDS[kind]}
    if name not in schema:
        raise UserError(f"kernel {kernel} ({kind}) has no parameter {name!r}; valid: "
                        f"{', '.join(sorted(schema))}")
    p = schema[name]
    where = f"kernel {kernel}: {name}"
    if p.type is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where} must be true or false, got {value!r}")
        return value
    if p.type is list:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not value:
            raise UserError(f"{where} must be a non-empty list of 'HBM[i]' or 'DDR[i]', "
                            f"got {value!r}")
        for port in value:
            if not isinstance(port, str) or not PORT_RE.match(port):
                raise UserError(f"{where}: port {port!r} is not 'HBM[i]' or 'DDR[i]'")
        return tuple(value)
    if p.type is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise UserError(f"{where} must be an integer, got {value!r}")
    if p.type is str and not isinstance(value, str):
        raise UserError(f"{where} must be a string, got {value!r}")
    if p.choices is not None and value not in p.choices:
        raise UserError(f"{where} = {value!r} is not allowed; valid: "
                        f"{', '.join(str(c) for c in p.choices)}")
    if (p.low is not None and value < p.low) or (p.high is not None and value > p.high):
        raise UserError(f"{where} = {value!r} is out of range [{p.low:g}, {p.high:g}]")
    return value


def check_kernel(name: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """Validate a whole kernel's attributes (``kind`` plus every parameter of that kind)."""
    kind = attrs.get("kind")
    if kind not in KINDS:
        raise UserError(f"kernel {name}: " + choices_message("kind", kind, KINDS))
    out: dict[str, Any] = {"kind": kind}
    schema = {**COMMON, **KINDS[kind]}
    for key, value in attrs.items():
        if key != "kind":
            out[key] = check_param(name, kind, key, value)
    missing = sorted(set(schema) - set(out))
    if missing:
        raise UserError(f"kernel {name} ({kind}) is missing parameter(s): {', '.join(missing)}")
    return out


def macs_per_cycle(attrs: dict[str, Any], tokens_per_pack: int) -> int:
    """Peak MACs per cycle of a matrix kernel when packs hold ``tokens_per_pack`` tokens.

    A systolic array's rows hold the tokens of a pack, so with fewer tokens than rows (decode
    with single-token packs) only that many rows do useful work.
    """
    kind = attrs["kind"]
    if kind in ("linear", "attn_matmul"):
        return int(min(attrs["rows"], tokens_per_pack) * attrs["cols"] * attrs["pack"])
    if kind == "gemv":
        return int(attrs["engines"] * attrs["pes"] * attrs["pack"])
    if kind == "attn_gemv":
        return int(attrs["heads_parallel"] * attrs["lanes"])
    raise ValueError(f"kernel kind {kind!r} is not a matrix engine")


def weight_bits_per_cycle(attrs: dict[str, Any]) -> int:
    """Weight bits a matrix kernel consumes per cycle while streaming (one word per cycle)."""
    kind = attrs["kind"]
    if kind == "linear":
        return int(attrs["cols"] * attrs["pack"] * attrs["weight_bits"])
    if kind == "gemv":
        return int(attrs["engines"] * attrs["pes"] * attrs["pack"] * attrs["weight_bits"])
    return 0
