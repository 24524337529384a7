"""Vitis HLS synthesis reports, text (``*_csynth.rpt``, ``csynth.rpt``) or XML.

Three layouts are read:

- a module report ("Vitis HLS Report for 'X'"): the clock table, the latency summary,
  the instance table, the loop table and the utilisation summary;
- the synthesis summary ("Synthesis Summary Report of 'X'"): one tree table of modules
  (``+``) and loops (``o``) with latency, interval, trip count and resources;
- the XML of either (``<profile>``): UserAssignments, PerformanceEstimates, AreaEstimates
  and, in the summary XML, ModuleInformation for every module.

Every value comes from the file. Where a layout lacks one, for example the summary text
has no clock table, the field is None, or derived and marked in ``derived``.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialsim.errors import UserError
from spatialsim.tomlio import parse_decimal, read_text

RESOURCES = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")


@dataclass
class Loop:
    trip_count: int | None
    ii: int | None
    iteration_latency: int | None
    latency_cycles: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "trip_count": self.trip_count,
            "ii": self.ii,
            "iteration_latency": self.iteration_latency,
            "latency_cycles": self.latency_cycles,
        }


@dataclass
class HlsReport:
    """What a csynth report says about its top function and what it contains."""

    path: str
    format: str
    top: str
    part: str | None
    clock_target_ns: float | None
    clock_estimated_ns: float | None
    latency_cycles: int | None
    interval_cycles: int | None
    modules: dict[str, dict[str, int | None]] = field(default_factory=dict)
    loops: dict[str, Loop] = field(default_factory=dict)
    resources: dict[str, int] = field(default_factory=dict)
    derived: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "format": self.format,
            "top": self.top,
            "part": self.part,
            "clock_target_ns": self.clock_target_ns,
            "clock_estimated_ns": self.clock_estimated_ns,
            "latency_cycles": self.latency_cycles,
            "interval_cycles": self.interval_cycles,
            "modules": self.modules,
            "loops": {k: v.to_json() for k, v in self.loops.items()},
            "resources": self.resources,
            "derived": self.derived,
        }


MAX_CYCLES = 10**15  # far beyond any real latency; larger is not a report's number


def _int(text: str) -> int | None:
    """A count from a report cell; None when it is not a (finite, bounded) number."""
    text = text.strip()
    if text in ("", "-", "?", "N/A", "undef") or len(text) > 24:
        return None
    try:
        value = parse_decimal(text)
    except ValueError:
        return None
    if not math.isfinite(value) or abs(value) > MAX_CYCLES:
        return None
    return int(value)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_report(path: Path) -> HlsReport:
    """Read a csynth report, text or XML, and name the file in every error."""
    text = read_text(path, "HLS report", errors="replace")
    if text.lstrip().startswith("<"):
        return _checked(path, _parse_xml(path, text))
    if "Synthesis Summary Report of" in text:
        return _checked(path, _parse_summary(path, text))
    if "Vitis HLS Report for" in text or "Vivado HLS Report for" in text:
        return _checked(path, _parse_module(path, text))
    raise UserError(
        f"{path}: not a Vitis HLS synthesis report (expected a *_csynth.rpt, "
        f"csynth.rpt or *_csynth.xml file)"
    )


# ---- module report (text) --------------------------------------------------------------


def _section(text: str, start: str, end: str | None = None) -> str:
    i = text.find(start)
    if i < 0:
        return ""
    j = text.find(end, i + len(start)) if end else -1
    return text[i : j if j > 0 else len(text)]


def _table_rows(block: str) -> list[list[str]]:
    """Data rows of the first ASCII table in ``block`` (after its header separator)."""
    rows: list[list[str]] = []
    seps = 0
    for line in block.splitlines():
        s = line.strip()
        if s.startswith("+-"):
            seps += 1
            if seps >= 3 and rows:
                break
            continue
        if s.startswith("|") and seps >= 2:
            rows.append(_cells(s))
    return rows


def _parse_module(path: Path, text: str) -> HlsReport:
    m = re.search(r"HLS Report for '([^']+)'", text)
    top = m.group(1) if m else path.stem
    part = _match(r"\* Target device:\s*(\S+)", text)
    clock = re.search(r"\|\s*ap_clk\s*\|\s*([\d.]+)\s*ns\s*\|\s*([\d.]+)\s*ns", text)
    perf = _section(text, "== Performance Estimates", "== Utilization Estimates")
    lat_block = _section(perf, "+ Latency:", "+ Detail:")
    latency = interval = None
    for row in _table_rows(lat_block):
        if len(row) >= 6 and _int(row[1]) is not None:
            latency, interval = _int(row[1]), _int(row[5])
            break
    rep = HlsReport(
        str(path),
        "text",
        top,
        part,
        _float(clock.group(1)) if clock else None,
        _float(clock.group(2)) if clock else None,
        latency,
        interval,
    )
    inst_block = _section(perf, "* Instance:", "* Loop:")
    for row in _table_rows(inst_block):
        if len(row) >= 8 and row[1]:
            rep.modules[row[1]] = {"latency_cycles": _int(row[3]), "interval_cycles": _int(row[7])}
    loop_block = _section(perf, "* Loop:")
    for row in _table_rows(loop_block):
        if len(row) >= 7 and row[0].startswith("-"):
            rep.loops[row[0].lstrip("- ").strip()] = Loop(
                trip_count=_int(row[6]),
                ii=_int(row[4]),
                iteration_latency=_int(row[3]),
                latency_cycles=_int(row[2]),
            )
    util = _section(text, "== Utilization Estimates", "+ Detail:")
    names: list[str] = []
    for line in util.splitlines():
        cells = _cells(line)
        if len(cells) > 2 and cells[0] == "Name":
            names = cells[1:]
        if cells and cells[0] == "Total" and names:
            rep.resources = {
                n: v
                for n, c in zip(names, cells[1:], strict=False)
                if n in RESOURCES and (v := _int(c)) is not None
            }
            break
    return rep


def _match(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


# ---- synthesis summary (text) ----------------------------------------------------------


def _parse_summary(path: Path, text: str) -> HlsReport:
    top = _match(r"Synthesis Summary Report of '([^']+)'", text) or path.stem
    part = _match(r"\* Target device:\s*(\S+)", text)
    block = _section(text, "+ Performance & Resource Estimates:", "== HW Interfaces")
    rows = [r for r in _table_rows(block) if r and r[0].lstrip()[:1] in "+o"]
    rep = HlsReport(str(path), "text-summary", top, part, None, None, None, None)
    for r in rows:
        label = r[0].strip()
        kind, name = label[0], label[1:].strip().rstrip("*").strip()
        if len(r) < 13:
            continue
        latency, interval = _int(r[3]), _int(r[6])
        if kind == "+":
            if rep.latency_cycles is None and name == top:
                rep.latency_cycles, rep.interval_cycles = latency, interval
                ns = _float(r[4])
                if ns and latency:
                    rep.clock_target_ns = round(ns / latency, 3)
                    rep.derived.append("clock_target_ns = latency (ns) / latency (cycles)")
                rep.resources = {
                    n: v
                    for n, c in zip(RESOURCES, r[9:14], strict=False)
                    if (v := _int(c.split("(")[0])) is not None
                }
            else:
                rep.modules[name] = {"latency_cycles": latency, "interval_cycles": interval}
        else:
            rep.loops[name] = Loop(
                trip_count=_int(r[7]),
                ii=_int(r[6]),
                iteration_latency=_int(r[5]),
                latency_cycles=latency,
            )
    return rep


def _checked(path: Path, rep: HlsReport) -> HlsReport:
    """Refuse a report with impossible numbers: negative latencies, intervals or trip
    counts, a clock period that is not positive."""
    counts = [("latency", rep.latency_cycles), ("interval", rep.interval_cycles)]
    for name, m in rep.modules.items():
        counts += [(f"module {name} latency", m.get("latency_cycles"))]
        counts += [(f"module {name} interval", m.get("interval_cycles"))]
    for name, lp in rep.loops.items():
        counts += [(f"loop {name} trip count", lp.trip_count), (f"loop {name} II", lp.ii)]
        counts += [(f"loop {name} latency", lp.latency_cycles)]
    for what, value in counts:
        if value is not None and value < 0:
            raise UserError(f"{path}: {what} = {value} cycles is negative; not a real report")
    for what, ns in (
        ("target clock", rep.clock_target_ns),
        ("estimated clock", rep.clock_estimated_ns),
    ):
        if ns is not None and not ns > 0:
            raise UserError(f"{path}: {what} = {ns} ns must be positive")
    return rep


def _float(text: str) -> float | None:
    try:
        value = parse_decimal(text)
        return value if math.isfinite(value) and abs(value) < MAX_CYCLES else None
    except ValueError:
        return None


# ---- XML -------------------------------------------------------------------------------


def _parse_xml(path: Path, text: str) -> HlsReport:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise UserError(f"{path}: not well-formed XML ({exc})") from None
    ua = root.find("UserAssignments")
    if ua is None:
        raise UserError(f"{path}: XML has no UserAssignments: not a Vitis HLS csynth report")
    perf = root.find("PerformanceEstimates")
    lat = perf.find("SummaryOfOverallLatency") if perf is not None else None
    est = perf.find("SummaryOfTimingAnalysis/EstimatedClockPeriod") if perf is not None else None
    interval = None
    if lat is not None:
        iv = lat.findtext("Interval-max") or lat.findtext("PipelineInitiationInterval")
        interval = _int(iv) if iv is not None else None
    rep = HlsReport(
        str(path),
        "xml",
        ua.findtext("TopModelName", path.stem),
        ua.findtext("Part"),
        _float(ua.findtext("TargetClockPeriod", "")),
        _float(est.text or "") if est is not None else None,
        _int(lat.findtext("Worst-caseLatency", "")) if lat is not None else None,
        interval,
    )
    if perf is not None:
        _xml_loops(perf.find("SummaryOfLoopLatency"), rep)
    res = root.find("AreaEstimates/Resources")
    if res is not None:
        rep.resources = {n: v for n in RESOURCES if (v := _int(res.findtext(n, ""))) is not None}
    for mod in root.findall("ModuleInformation/Module"):
        name = mod.findtext("Name", "")
        ml = mod.find("PerformanceEstimates/SummaryOfOverallLatency")
        if name == rep.top or ml is None:
            continue
        rep.modules[name] = {
            "latency_cycles": _int(ml.findtext("Worst-caseLatency", "")),
            "interval_cycles": _int(ml.findtext("PipelineInitiationInterval", "")),
        }
        _xml_loops(mod.find("PerformanceEstimates/SummaryOfLoopLatency"), rep)
    return rep


def _xml_loops(node: ET.Element | None, rep: HlsReport) -> None:
    if node is None:
        return
    for loop in node:
        rep.loops[loop.findtext("Name") or loop.tag] = Loop(
            trip_count=_int(loop.findtext("TripCount", "")),
            ii=_int(loop.findtext("PipelineII", "")),
            iteration_latency=_int(loop.findtext("PipelineDepth", "")),
            latency_cycles=_int(loop.findtext("Latency", "")),
        )
