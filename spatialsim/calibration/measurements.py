"""Measurements in: board runs (CSV), HBM microbenchmarks (CSV) and HLS report modules.

Board CSV (docs/calibration.md), one row per run, header required:

    model,design,platform,layers,prompt_len,gen_len,clock_mhz,ttft_ms,tpot_ms

``ttft_ms`` or ``tpot_ms`` may be empty (not measured). Optional columns:
``prefill_layer_ms`` and ``decode_layer_ms`` (one layer's time, e.g. from XRT's kernel
execution summary of the region compute units), ``tp`` and ``pp`` (a run on several cards:
tensor- and pipeline-parallel degrees, default 1) and ``note``. The HBM CSV is the
``quantity,value,unit,conditions,kind,source`` format of the shipped microbenchmarks.

An HLS table (CSV) holds latencies copied from Vitis reports or a paper, one per row:

    module,latency_cycles

with ``module`` a report's module name (``Linear_layer_ds2``), one of the design's kernels
(``ffn2``) or a region (``region_3``), and optional ``phase`` (``prefill`` or ``decode``;
default: ``calibrate --hls-phase``) and ``source`` columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from spatialsim.errors import UserError
from spatialsim.hardware.cluster import MAX_DEVICES
from spatialsim.tomlio import csv_rows, parse_decimal, parse_integer, read_text
from spatialsim.workload.models import LAYERS_MAX
from spatialsim.workload.traces import MAX_TOKENS

BOARD_COLUMNS = (
    "model",
    "design",
    "platform",
    "layers",
    "prompt_len",
    "gen_len",
    "clock_mhz",
    "ttft_ms",
    "tpot_ms",
)
BOARD_OPTIONAL = ("prefill_layer_ms", "decode_layer_ms", "tp", "pp", "note")
HBM_COLUMNS = ("quantity", "value", "unit", "conditions", "kind", "source")
HLS_COLUMNS = ("module", "latency_cycles")
HLS_OPTIONAL = ("phase", "source")
PHASES = ("prefill", "decode")


@dataclass(frozen=True)
class BoardRun:
    """One measured run; ``row`` is its line in the file (for messages)."""

    file: str
    row: int
    model: str
    design: str
    platform: str
    layers: int
    prompt_len: int
    gen_len: int
    clock_mhz: float
    ttft_ms: float | None
    tpot_ms: float | None
    prefill_layer_ms: float | None = None
    decode_layer_ms: float | None = None
    tp: int = 1
    pp: int = 1

    @property
    def label(self) -> str:
        cards = f" tp={self.tp} pp={self.pp}" if self.tp * self.pp > 1 else ""
        return (
            f"{Path(self.file).name}:{self.row} {self.model}/{self.design} "
            f"l={self.prompt_len} g={self.gen_len}{cards}"
        )


@dataclass(frozen=True)
class HbmMeasurement:
    quantity: str
    value: float
    unit: str
    conditions: str
    kind: str
    source: str


def _read(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...]
) -> list[tuple[int, dict[str, str]]]:
    header, rows = csv_rows(read_text(path, "CSV file"), str(path))
    missing = [c for c in required if c not in header]
    if missing:
        raise UserError(
            f"{path}: missing column(s) {', '.join(missing)}; the header "
            f"must have {','.join(required)}"
        )
    unknown = [c for c in header if c not in required + optional]
    if unknown:
        raise UserError(
            f"{path}: unknown column {unknown[0]!r}; valid: {', '.join(required + optional)}"
        )
    return rows


def _num(
    path: Path,
    row: int,
    col: str,
    text: str | None,
    cast: type,
    empty_ok: bool,
    positive: bool = True,
) -> float | None:
    """Cell ``col`` of row ``row`` as a number in its physical range (``RANGES``)."""
    text = (text or "").strip()
    if not text:
        if empty_ok:
            return None
        raise UserError(f"{path}: row {row}: {col} is empty; it needs a value")
    if len(text) > 40:
        raise UserError(f"{path}: row {row}: {col} = {text[:20]!r}... is not a number")
    try:
        value = parse_integer(text) if cast is int else parse_decimal(text)
    except ValueError:
        what = "an integer" if cast is int else "a number"
        raise UserError(
            f"{path}: row {row}: {col} = {text!r} is not {what} (ASCII digits)"
        ) from None
    if not math.isfinite(value):
        raise UserError(f"{path}: row {row}: {col} = {text} is not a finite number")
    if positive and not value > 0:
        raise UserError(f"{path}: row {row}: {col} = {text} must be positive")
    low, high, unit = RANGES.get(col, (0, 1e15, ""))
    if not low <= value <= high:
        raise UserError(
            f"{path}: row {row}: {col} = {text} must be from {low:g} to {high:g} {unit}".rstrip()
        )
    return float(value)


# What a board run or a measurement can physically be: times from a nanosecond to a day,
# a fabric clock, lengths within any model's context, cards within a simulated cluster.
RANGES: dict[str, tuple[float, float, str]] = {
    "ttft_ms": (1e-6, 86_400_000, "ms"),
    "tpot_ms": (1e-6, 86_400_000, "ms"),
    "prefill_layer_ms": (1e-6, 86_400_000, "ms"),
    "decode_layer_ms": (1e-6, 86_400_000, "ms"),
    "clock_mhz": (1, 2000, "MHz"),
    "layers": (1, LAYERS_MAX, "layers"),
    "prompt_len": (1, MAX_TOKENS, "tokens"),
    "gen_len": (0, MAX_TOKENS, "tokens"),
    "tp": (1, MAX_DEVICES, "cards"),
    "pp": (1, MAX_DEVICES, "stages"),
    "latency_cycles": (1, 1e15, "cycles"),
}


def load_board_csv(path: Path) -> list[BoardRun]:
    rows = _read(path, BOARD_COLUMNS, BOARD_OPTIONAL)
    runs = []
    for i, r in rows:
        ttft = _num(path, i, "ttft_ms", r.get("ttft_ms"), float, True)
        tpot = _num(path, i, "tpot_ms", r.get("tpot_ms"), float, True)
        gen = _num(path, i, "gen_len", r.get("gen_len"), int, False, positive=False)
        if (
            ttft is None
            and tpot is None
            and not r.get("prefill_layer_ms")
            and not r.get("decode_layer_ms")
        ):
            raise UserError(
                f"{path}: row {i}: no measurement (ttft_ms, tpot_ms or a layer time must be given)"
            )
        if tpot is not None and not gen:
            raise UserError(f"{path}: row {i}: tpot_ms needs gen_len > 0")
        runs.append(
            BoardRun(
                file=str(path),
                row=i,
                model=r["model"].strip(),
                design=r["design"].strip(),
                platform=r["platform"].strip(),
                layers=int(_num(path, i, "layers", r.get("layers"), int, False) or 0),
                prompt_len=int(_num(path, i, "prompt_len", r.get("prompt_len"), int, False) or 0),
                gen_len=int(gen or 0),
                clock_mhz=float(_num(path, i, "clock_mhz", r.get("clock_mhz"), float, False) or 0),
                ttft_ms=ttft,
                tpot_ms=tpot,
                prefill_layer_ms=_num(
                    path, i, "prefill_layer_ms", r.get("prefill_layer_ms"), float, True
                ),
                decode_layer_ms=_num(
                    path, i, "decode_layer_ms", r.get("decode_layer_ms"), float, True
                ),
                tp=int(_num(path, i, "tp", r.get("tp"), int, True) or 1),
                pp=int(_num(path, i, "pp", r.get("pp"), int, True) or 1),
            )
        )
    if not runs:
        raise UserError(f"{path}: no rows")
    return runs


def load_hbm_csv(path: Path) -> list[HbmMeasurement]:
    out = []
    for i, r in _read(path, HBM_COLUMNS, ()):
        value = _num(path, i, "value", r.get("value"), float, False)
        assert value is not None
        out.append(
            HbmMeasurement(
                r["quantity"].strip(),
                value,
                r["unit"].strip(),
                r["conditions"].strip(),
                r["kind"].strip(),
                r["source"].strip(),
            )
        )
    if not out:
        raise UserError(f"{path}: no rows")
    return out


def load_hls_csv(path: Path, default_phase: str) -> dict[str, dict[str, int]]:
    """An HLS latency table: phase -> module -> latency in cycles."""
    out: dict[str, dict[str, int]] = {}
    for i, r in _read(path, HLS_COLUMNS, HLS_OPTIONAL):
        module = r["module"].strip()
        if not module or len(module) > 128:
            raise UserError(f"{path}: row {i}: module {module[:40]!r} must be a module name")
        phase = (r.get("phase") or "").strip() or default_phase
        if phase not in PHASES:
            raise UserError(f"{path}: row {i}: phase {phase!r}; valid: {', '.join(PHASES)}")
        value = _num(path, i, "latency_cycles", r.get("latency_cycles"), float, False)
        assert value is not None
        if module in out.get(phase, {}):
            raise UserError(f"{path}: row {i}: {phase} {module} is given twice")
        out.setdefault(phase, {})[module] = int(value)
    if not out:
        raise UserError(f"{path}: no rows")
    return out
