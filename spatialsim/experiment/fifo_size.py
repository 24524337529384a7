"""FIFO sizing: the smallest depth of every FIFO that keeps TTFT and TPOT within a
tolerance of unbounded FIFOs (and of the design as given), on a set of workloads, and
never deadlocks.

1. The reference: every FIFO made deep enough never to fill (``UNBOUNDED`` words).
2. FIFO by FIFO (each bitstream's, in graph order), a binary search for the smallest depth
   from 1 to the design's own: a candidate is accepted when every workload runs without
   deadlock and its TTFT and TPOT are within the tolerance of the reference, with every
   FIFO sized so far at its new depth. Each accepted step therefore checks the design as
   it will be written, so the sized design is within the tolerance by construction.
3. The search moves words in the engine's coarse chunks; a FIFO can need more room when
   words move one at a time, as in hardware. The sized design is run word by word (one
   layer per workload) and every FIFO found full in a deadlock is deepened, by binary
   search up to the design's depth, until none deadlocks.
4. Depths that deadlocked are listed with the diagnosis; the BRAM, URAM and LUT the
   smaller FIFOs save are counted with the resource model's FIFO storage rule.

Prefill FIFOs are judged on TTFT, decode FIFOs on TPOT (a bitstream serving both phases on
both). Simulations run ``layers`` layers (identical layers make the ratio the same).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from spatialsim.costmodel.params import CostParams
from spatialsim.design.graph import Design
from spatialsim.design.resources import fifo_resources
from spatialsim.engine.kernels import Granularity
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.errors import DeadlockError, UserError
from spatialsim.hardware.platform import Platform
from spatialsim.limits import MAX_WORKLOADS

UNBOUNDED = 1 << 24  # words: deeper than any layer's traffic
DEFAULT_TOLERANCE = 0.01


@dataclass
class Sizing:
    """The sized design, each FIFO's depths and storage, the rejected depths, and the
    latencies of the reference, the design as given and the sized design."""

    design: Design
    fifos: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    latencies: dict[str, dict[str, tuple[float, float | None]]] = field(default_factory=dict)

    def saved(self) -> dict[str, float]:
        out = {"bram36": 0.0, "uram": 0.0, "lut": 0.0}
        for f in self.fifos:
            for r in out:
                out[r] += f[f"{r}_before"] - f[f"{r}_after"]
        return out


def _with_depths(design: Design, depths: dict[tuple[str, str], int]) -> Design:
    out = design.copy()
    for (bname, fname), depth in depths.items():
        g = out.bitstreams[bname]
        for u, v, a in g.edges(data=True):
            if a["name"] == fname:
                g.edges[u, v]["depth_words"] = depth
    return out.freeze()


def _deadlock(
    design: Design, platform: Platform, workloads: list[tuple[int, int]], params: CostParams
) -> tuple[str, DeadlockError] | None:
    """Run every workload one word per transfer (one layer): the phase and error of the
    first deadlock, or None."""
    fine = Granularity(None)
    for prompt, gen in workloads:
        runs = [("prefill", RunConfig(prompt, 0, layers=1, params=params, granularity=fine))]
        if gen:
            cfg = RunConfig(prompt, 1, layers=1, params=params, granularity=fine,
                            decode_only=True)  # fmt: skip
            runs.append(("decode", cfg))
        for phase, cfg in runs:
            try:
                simulate(design, platform, cfg)
            except DeadlockError as exc:
                return phase, exc
    return None


def _repair_word_by_word(
    design: Design,
    platform: Platform,
    workloads: list[tuple[int, int]],
    params: CostParams,
    depths: dict[tuple[str, str], int],
    rejected: list[dict[str, Any]],
) -> None:
    """Depths found with coarse transfers can be too small when words move one at a time
    (as in hardware): a FIFO must then hold everything written before its reader starts.
    Deepen each FIFO a word-by-word run finds full in a deadlock, by binary search up to
    the design's depth, until none deadlocks."""
    while True:
        found = _deadlock(_with_depths(design, depths), platform, workloads, params)
        if found is None:
            return
        phase, exc = found
        bname = design.phases[phase].bitstream
        full = [str(c["fifo"]) for c in exc.cycle if c["op"] == "put"]
        target = next((f for f in full if (bname, f) in depths), None)
        if target is None:
            raise UserError(f"the sized design deadlocks word by word: {_why(exc)}")
        key = (bname, target)
        template = next(a["depth_words"] for _, _, a in design.bitstreams[bname].edges(data=True)
                        if a["name"] == target)  # fmt: skip
        lo, hi = depths[key] + 1, template
        while lo < hi:
            mid = (lo + hi) // 2
            trial = _with_depths(design, {**depths, key: mid})
            again = _deadlock(trial, platform, workloads, params)
            if again is not None and target in {c["fifo"] for c in again[1].cycle}:
                rejected.append({"bitstream": bname, "fifo": target, "depth": mid,
                                 "diagnosis": "word by word: " + _why(again[1])})  # fmt: skip
                lo = mid + 1
            else:
                hi = mid
        rejected.append({"bitstream": bname, "fifo": target, "depth": depths[key],
                         "diagnosis": "word by word: " + _why(exc)})  # fmt: skip
        depths[key] = hi


def _why(exc: DeadlockError) -> str:
    """The wait-for cycle in one line: who waits on which FIFO, how full it is."""
    parts = [
        f"{c['kernel']} {'blocked on' if c['op'] == 'put' else 'starved on'} {c['fifo']} "
        f"({c['occupancy']}/{c['depth']})"
        for c in exc.cycle
    ]
    return "; ".join(parts) or str(exc).splitlines()[0]


def size_fifos(
    design: Design,
    platform: Platform,
    workloads: list[tuple[int, int]],
    tolerance: float = DEFAULT_TOLERANCE,
    layers: int = 2,
    params: CostParams | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Sizing:
    """Size every FIFO of ``design`` for ``workloads`` (prompt, generated) pairs."""
    if not workloads:
        raise UserError("fifo-size needs at least one workload", field="workloads")
    workloads = list(dict.fromkeys((int(p), int(g)) for p, g in workloads))  # each once
    if len(workloads) > MAX_WORKLOADS:
        raise UserError(
            f"{len(workloads)} distinct workloads; at most {MAX_WORKLOADS} (each is simulated "
            "word by word for every candidate depth): keep the ones that bound the sizes, "
            "the shortest and the longest prompt and generation",
            field="workloads",
        )
    if not 0 < tolerance < 1:
        raise UserError(f"tolerance must be in (0, 1), got {tolerance!r}", field="tolerance")
    params = params or CostParams()
    layers = min(layers, design.model.layers)
    phases_of = {b: [p for p, pb in design.phases.items() if pb.bitstream == b]
                 for b in design.bitstreams}  # fmt: skip

    def latencies(d: Design) -> dict[str, tuple[float, float | None]]:
        out = {}
        for prompt, gen in workloads:
            r = simulate(d, platform, RunConfig(prompt, gen, layers=layers, params=params))
            out[f"{prompt}+{gen}"] = (r.ttft_ms, r.tpot_ms)
        return out

    every = [(b, a["name"]) for b, g in design.bitstreams.items() for _, _, a in g.edges(data=True)]
    reference = latencies(_with_depths(design, dict.fromkeys(every, UNBOUNDED)))
    try:
        as_given = latencies(design)
    except DeadlockError as exc:
        raise UserError(f"the design as given deadlocks: {str(exc).splitlines()[0]}") from None

    # the most each latency may be: within the tolerance of unbounded FIFOs and of the
    # design as given; when the design as given is already slower than that, within the
    # tolerance of it (smaller FIFOs cannot make it faster than unbounded ones)
    limits: dict[str, list[float | None]] = {}
    for w, (ttft, tpot) in as_given.items():
        out: list[float | None] = []
        for mine, ref in ((ttft, reference[w][0]), (tpot, reference[w][1])):
            if mine is None or ref is None:
                out.append(None)
            elif mine <= ref * (1 + tolerance):
                out.append(min(mine, ref) * (1 + tolerance))
            else:
                out.append(mine * (1 + tolerance))
        limits[w] = out

    def within(lat: dict[str, tuple[float, float | None]], phases: list[str]) -> bool:
        for w, (ttft, tpot) in lat.items():
            max_ttft, max_tpot = limits[w]
            if "prefill" in phases and max_ttft is not None and ttft > max_ttft:
                return False
            if "decode" in phases and tpot is not None and max_tpot is not None and tpot > max_tpot:
                return False
        return True

    depths: dict[tuple[str, str], int] = {}
    rejected: list[dict[str, Any]] = []
    for i, (bname, fname) in enumerate(every):
        if progress is not None:
            progress(i, len(every), "fifo-size")
        g = design.bitstreams[bname]
        width, template = next(
            (a["width_bits"], a["depth_words"]) for _, _, a in g.edges(data=True)
            if a["name"] == fname
        )  # fmt: skip

        def ok(depth: int, bname: str = bname, fname: str = fname) -> bool:
            trial = _with_depths(design, {**depths, (bname, fname): depth})
            try:
                lat = latencies(trial)
            except DeadlockError as exc:
                rejected.append({"bitstream": bname, "fifo": fname, "depth": depth,
                                 "diagnosis": _why(exc)})  # fmt: skip
                return False
            return within(lat, phases_of[bname])

        lo, hi = 1, template  # the design's depth is accepted (checked: hi keeps it)
        if not ok(hi):
            depths[(bname, fname)] = template
            continue
        while lo < hi:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid + 1
        depths[(bname, fname)] = hi
    if progress is not None:
        progress(len(every), len(every), "fifo-size")
    _repair_word_by_word(design, platform, workloads, params, depths, rejected)
    sized = _with_depths(design, depths)
    rows = []
    for bname, fname in every:
        g = design.bitstreams[bname]
        width, template = next(
            (a["width_bits"], a["depth_words"]) for _, _, a in g.edges(data=True)
            if a["name"] == fname
        )  # fmt: skip
        new = depths[(bname, fname)]
        before, after = fifo_resources(template, width), fifo_resources(new, width)
        rows.append(
            {
                "bitstream": bname,
                "fifo": fname,
                "width_bits": width,
                "depth": template,
                "sized": new,
                **{f"{r}_before": before[r] for r in ("bram36", "uram", "lut")},
                **{f"{r}_after": after[r] for r in ("bram36", "uram", "lut")},
            }
        )
    result = Sizing(sized, rows, rejected)
    result.latencies = {
        "unbounded": reference,
        "as given": as_given,
        "sized": latencies(sized),
    }
    return result
