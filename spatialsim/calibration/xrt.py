"""XRT profiling files as measurements: the profile summary and the device trace.

Users who profile a Vitis design on the board (``xrt.ini`` with ``opencl_summary`` and
``device_trace``) get two files spatialsim reads directly (layouts in
``../shared/reference/xrt_profile.md``; XRT 2.x, Vitis 2022.x-2023.x):

- ``summary.csv``: a ``Key: value`` preamble, then sections (a title line, a header row,
  data rows, usually with a trailing comma). From ``Compute Unit Utilization`` each compute
  unit's calls and execution times on the device; from ``Kernel Execution``, when present,
  each kernel's enqueue-to-completion times on the host.
- ``device_trace_*.csv``: blocks (``HEADER``, ``STRUCTURE``, ``MAPPING``, ``EVENTS``, ...).
  Each ``KERNEL`` start event is matched with its end event; an execution is end - start and
  the gap between two executions on one compute unit is host and launch time.

Both are parsed by section title and column name, never by position; unknown sections,
blocks and columns are ignored, as XRT adds and reorders them between versions. A value
that is not a finite number, a missing required column or an end event without its start
is an error naming the file and the line.
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from spatialsim.errors import UserError
from spatialsim.tomlio import parse_decimal, read_text

CU_SECTION = "Compute Unit Utilization"
KERNEL_SECTION = "Kernel Execution"
CU_COLUMNS = {
    "cu": "Compute Unit",
    "kernel": "Kernel",
    "calls": "Number Of Calls",
    "total_ms": "Total Time (ms)",
    "min_ms": "Minimum Time (ms)",
    "avg_ms": "Average Time (ms)",
    "max_ms": "Maximum Time (ms)",
    "clock_mhz": "Clock Frequency (MHz)",
}
KERNEL_COLUMNS = {
    "kernel": "Kernel",
    "enqueues": "Number Of Enqueues",
    "total_ms": "Total Time (ms)",
    "min_ms": "Minimum Time (ms)",
    "avg_ms": "Average Time (ms)",
    "max_ms": "Maximum Time (ms)",
}
TRACE_BLOCKS = ("HEADER", "STRUCTURE", "MAPPING", "EVENTS", "DEPENDENCIES")


@dataclass(frozen=True)
class CuSummary:
    """One compute unit in a profile summary: device-side execution times."""

    kernel: str
    calls: int
    total_ms: float
    min_ms: float
    avg_ms: float
    max_ms: float
    clock_mhz: float

    def to_json(self) -> dict[str, Any]:
        return {
            "kernel": self.kernel,
            "calls": self.calls,
            "total_ms": self.total_ms,
            "min_ms": self.min_ms,
            "avg_ms": self.avg_ms,
            "max_ms": self.max_ms,
            "clock_mhz": self.clock_mhz,
        }


@dataclass(frozen=True)
class ProfileSummary:
    """A ``summary.csv``: the application, the device and every compute unit."""

    file: str
    application: str | None
    device: str | None
    compute_units: dict[str, CuSummary]
    kernels: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "application": self.application,
            "device": self.device,
            "compute_units": {cu: s.to_json() for cu, s in self.compute_units.items()},
        }
        if self.kernels:
            doc["kernel_execution"] = self.kernels
        return doc


@dataclass(frozen=True)
class CuTrace:
    """One compute unit in a device trace: each execution's start and end (ms)."""

    kernel: str
    executions: tuple[tuple[float, float], ...]

    @property
    def durations_ms(self) -> list[float]:
        return [end - start for start, end in self.executions]

    @property
    def gaps_ms(self) -> list[float]:
        """From the end of one execution to the start of the next."""
        ex = sorted(self.executions)
        return [b[0] - a[1] for a, b in pairwise(ex)]

    def to_json(self) -> dict[str, Any]:
        d, g = self.durations_ms, self.gaps_ms
        return {
            "kernel": self.kernel,
            "executions": len(d),
            "mean_ms": statistics.fmean(d),
            "min_ms": min(d),
            "max_ms": max(d),
            "mean_gap_ms": statistics.fmean(g) if g else None,
        }


@dataclass(frozen=True)
class DeviceTrace:
    """A ``device_trace_*.csv``: the executions of every compute unit."""

    file: str
    compute_units: dict[str, CuTrace]

    def to_json(self) -> dict[str, Any]:
        return {"compute_units": {cu: t.to_json() for cu, t in self.compute_units.items()}}


def read_xrt(path: Path) -> ProfileSummary | DeviceTrace:
    """A profile summary or a device trace, told apart by their content."""
    text = read_text(path, "XRT profile file")
    lines = text.splitlines()
    first = next((ln.strip().rstrip(",") for ln in lines if ln.strip()), "")
    if first in TRACE_BLOCKS:
        return parse_trace(lines, str(path))
    if first.startswith("Profile Summary") or any(
        ln.strip().rstrip(",") == CU_SECTION for ln in lines
    ):
        return parse_summary(lines, str(path))
    raise UserError(
        f"{path}: not an XRT profile summary (no '{CU_SECTION}' section) or device trace "
        f"(no {'/'.join(TRACE_BLOCKS[:4])} blocks)"
    )


def _cells(line: str, where: str = "") -> list[str]:
    """A CSV line's cells, stripped, without the trailing empty cell of a trailing comma."""
    if not line.strip():
        return []
    try:
        cells = [c.strip() for c in next(csv.reader([line]))]
    except csv.Error as exc:
        raise UserError(f"{where}: not valid CSV ({exc})") from None
    while cells and cells[-1] == "":
        cells.pop()
    return cells


MAX_VALUE = 1e12  # a count or a time in ms: 31 years of milliseconds


def _number(where: str, column: str, text: str, integer: bool = False) -> float:
    try:
        value = parse_decimal(text)
    except ValueError:
        raise UserError(f"{where}: {column} = {text[:40]!r} is not a number") from None
    low, high, unit = (1.0, 2000.0, "MHz") if "MHz" in column else (0.0, MAX_VALUE, "")
    if not math.isfinite(value) or not low <= value <= high:
        raise UserError(
            f"{where}: {column} = {text!r} must be from {low:g} to {high:g} {unit}".rstrip()
        )
    if integer and value != int(value):
        raise UserError(f"{where}: {column} = {text!r} must be a whole number")
    return value


def _sections(
    lines: list[str], file: str = ""
) -> tuple[dict[str, str], dict[str, list[tuple[int, list[str]]]]]:
    """The ``Key: value`` preamble and every section's rows (line number, cells) by title.

    Blank lines separate blocks. A block of single-cell lines before any section is the
    preamble; in a section block, a first line of one cell is the title and the next the
    header."""
    blocks: list[list[tuple[int, list[str]]]] = [[]]
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            blocks[-1].append((number, _cells(raw, f"{file}: line {number}")))
        elif blocks[-1]:
            blocks.append([])
    preamble: dict[str, str] = {}
    sections: dict[str, list[tuple[int, list[str]]]] = {}
    for block in blocks:
        if not block:
            continue
        if all(len(cells) <= 1 for _, cells in block):
            if not sections:
                for _, cells in block:
                    key, sep, value = (cells[0] if cells else "").partition(":")
                    if sep:
                        preamble[key.strip()] = value.strip()
            continue
        title = ""
        if len(block[0][1]) == 1:
            title, block = block[0][1][0], block[1:]
        sections.setdefault(title, []).extend(block)
    return preamble, sections


def _table(
    file: str, title: str, rows: list[tuple[int, list[str]]], columns: dict[str, str]
) -> list[tuple[str, dict[str, str]]]:
    """The section's data rows as {key: cell}, by column name; ``where`` per row."""
    if not rows:
        raise UserError(f"{file}: section '{title}' has no header row")
    header_line, header = rows[0]
    missing = [name for name in columns.values() if name not in header]
    if missing:
        raise UserError(
            f"{file}:{header_line}: section '{title}' lacks column(s) {', '.join(missing)}"
        )
    index = {key: header.index(name) for key, name in columns.items()}
    out = []
    for number, cells in rows[1:]:
        where = f"{file}:{number}"
        if len(cells) < len(header):
            raise UserError(
                f"{where}: '{title}' row has {len(cells)} cells, the header {len(header)}"
            )
        out.append((where, {key: cells[i] for key, i in index.items()}))
    return out


def parse_summary(lines: list[str], file: str) -> ProfileSummary:
    preamble, sections = _sections(lines, file)
    if CU_SECTION not in sections:
        raise UserError(f"{file}: no '{CU_SECTION}' section; sections: {', '.join(sections)}")
    cus: dict[str, CuSummary] = {}
    device = preamble.get("Target devices")
    for where, row in _table(file, CU_SECTION, sections[CU_SECTION], CU_COLUMNS):
        name = row["cu"]
        if not name:
            raise UserError(f"{where}: empty Compute Unit name")
        if name in cus:
            raise UserError(f"{where}: compute unit {name} appears twice")
        cus[name] = CuSummary(
            kernel=row["kernel"],
            calls=int(_number(where, CU_COLUMNS["calls"], row["calls"], integer=True)),
            **{
                k: _number(where, CU_COLUMNS[k], row[k])
                for k in ("total_ms", "min_ms", "avg_ms", "max_ms", "clock_mhz")
            },
        )
    kernels: dict[str, dict[str, float]] = {}
    if KERNEL_SECTION in sections:
        for where, row in _table(file, KERNEL_SECTION, sections[KERNEL_SECTION], KERNEL_COLUMNS):
            kernels[row["kernel"]] = {
                k: _number(where, KERNEL_COLUMNS[k], row[k], integer=(k == "enqueues"))
                for k in KERNEL_COLUMNS
                if k != "kernel"
            }
    return ProfileSummary(file, preamble.get("Profiled application"), device, cus, kernels)


def _blocks(lines: list[str], file: str) -> dict[str, list[tuple[int, list[str]]]]:
    blocks: dict[str, list[tuple[int, list[str]]]] = {}
    current: list[tuple[int, list[str]]] | None = None
    for number, raw in enumerate(lines, start=1):
        cells = _cells(raw, f"{file}: line {number}")
        if not cells:
            continue
        if len(cells) == 1 and cells[0].isupper() and cells[0].isidentifier():
            current = blocks.setdefault(cells[0], [])
            continue
        if current is None:
            raise UserError(f"{file}:{number}: a line before the first block (HEADER, ...)")
        current.append((number, cells))
    return blocks


def parse_trace(lines: list[str], file: str) -> DeviceTrace:
    blocks = _blocks(lines, file)
    if "EVENTS" not in blocks:
        raise UserError(f"{file}: no EVENTS block; blocks: {', '.join(blocks)}")
    mapping = {cells[0]: cells[1] for _, cells in blocks.get("MAPPING", []) if len(cells) >= 2}
    row_cu = _row_groups(blocks.get("STRUCTURE", []))
    starts: dict[str, tuple[float, str, str]] = {}
    runs: dict[str, list[tuple[float, float]]] = {}
    kernel_of: dict[str, str] = {}
    for number, cells in blocks["EVENTS"]:
        where = f"{file}:{number}"
        if len(cells) < 5:
            raise UserError(
                f"{where}: an event needs EVENT_ID,START_ID,TIMESTAMP_MS,ROW_ID,TYPE; "
                f"got {','.join(cells)!r}"
            )
        event_id, start_id, stamp, row, kind = cells[:5]
        if kind != "KERNEL":
            continue
        t = _number(where, "TIMESTAMP_MS", stamp)
        if start_id in ("0", ""):
            kernel = mapping.get(cells[5], cells[5]) if len(cells) > 5 else "?"
            cu = mapping.get(cells[6], cells[6]) if len(cells) > 6 else row_cu.get(row, row)
            starts[event_id] = (t, cu, kernel)
            continue
        if start_id not in starts:
            raise UserError(f"{where}: end event of start event {start_id}, never seen")
        t0, cu, kernel = starts.pop(start_id)
        if t < t0:
            raise UserError(f"{where}: execution ends at {t} ms, before its start {t0} ms")
        runs.setdefault(cu, []).append((t0, t))
        kernel_of[cu] = kernel
    if not runs:
        raise UserError(f"{file}: no complete KERNEL execution in the EVENTS block")
    return DeviceTrace(
        file, {cu: CuTrace(kernel_of[cu], tuple(sorted(ex))) for cu, ex in runs.items()}
    )


def _row_groups(structure: list[tuple[int, list[str]]]) -> dict[str, str]:
    """Row id -> the innermost group (a compute unit) its Dynamic_Row_Summary is in."""
    stack: list[str] = []
    out: dict[str, str] = {}
    for _, cells in structure:
        tag = cells[0]
        if tag == "Group_Start" and len(cells) > 1:
            stack.append(cells[1])
        elif tag == "Group_End" and stack:
            stack.pop()
        elif tag == "Dynamic_Row_Summary" and len(cells) > 1 and stack:
            out[cells[1]] = stack[-1]
    return out
