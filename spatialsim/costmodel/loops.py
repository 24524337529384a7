"""Pipelined loops and isolated estimates: the vocabulary every kernel's cost is told in.

A kernel's estimate is a list of pipelined loops plus a fitted remainder:

- each :class:`Loop` has an UPPER_SNAKE label, trip count, II, iteration latency (depth)
  and how many times it is entered. The labels are the loop labels of the C++ kernels in
  ``hw_kernels/``, whose instrumented C simulation counts the same trips (the tests compare
  them);
- ``fitted`` holds cycles the reports show but our loop structure does not explain. Each
  term is a :class:`~spatialsim.costmodel.params.CostParams` field fitted to the chen2024
  W4A8 HLS report, such as the m_axi first-access latency or the per-row prologue of the
  arrays.

Cycles = sum over loops of entries x (II x (trips - 1) + depth) + fitted + call overhead.
The kernel kinds (:mod:`spatialsim.kinds`) build their estimates from these pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spatialsim.costmodel.params import CostParams

SIMPLE_DEPTH = 2  # read, operate, write: an element loop's iteration latency


def pipelined(trips: int, ii: float, depth: float) -> float:
    """Latency of a pipelined loop: II x (trips - 1) + iteration latency; 0 when empty."""
    return 0.0 if trips <= 0 else ii * (trips - 1) + depth


@dataclass(frozen=True)
class Loop:
    """A pipelined loop: ``entries`` x (II x (trips - 1) + depth) cycles."""

    name: str
    trips: int
    ii: float
    depth: float
    entries: int

    @property
    def cycles(self) -> float:
        return self.entries * pipelined(self.trips, self.ii, self.depth)

    @property
    def total_trips(self) -> int:
        return self.entries * self.trips


@dataclass(frozen=True)
class Estimate:
    """One kernel's isolated latency for one layer launch."""

    kernel: str
    kind: str
    loops: tuple[Loop, ...]
    fitted: float
    call: float

    @property
    def cycles(self) -> float:
        return sum(lp.cycles for lp in self.loops) + self.fitted + self.call

    def loop(self, name: str) -> Loop:
        """The loop labelled ``name``."""
        for lp in self.loops:
            if lp.name == name:
                return lp
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "cycles": round(self.cycles, 3),
            "kind": self.kind,
            "loops": {
                lp.name: {
                    "trips": lp.trips,
                    "ii": lp.ii,
                    "depth": lp.depth,
                    "entries": lp.entries,
                    "cycles": lp.cycles,
                }
                for lp in self.loops
            },
            "fitted_cycles": self.fitted,
            "call_cycles": self.call,
        }


def make_estimate(
    name: str,
    kind: str,
    loops: list[Loop],
    fitted: float,
    params: CostParams,
    call: float | None = None,
) -> Estimate:
    """An estimate with the empty loops left out and the function-call overhead added."""
    return Estimate(
        name,
        kind,
        tuple(lp for lp in loops if lp.entries and lp.trips),
        fitted,
        params.call_overhead_cycles if call is None else call,
    )


def array_prologue(k: int, params: CostParams) -> float:
    """Fitted per-row prologue of a systolic array (K/16 + 27 cycles in the W4A8 report)."""
    return k / params.array_prologue_divisor + params.array_prologue_cycles


def row_store_fitted(features: int, params: CostParams) -> float:
    """Fitted per-pack extra of the buffer writers and residuals (0.5 cycle per word)."""
    return features * params.row_store_cycles_per_word + params.row_store_overhead_cycles


def mac_depth(block_overhead_cycles: float) -> float:
    """Iteration latency of a systolic MAC loop: K + block_overhead_cycles per block."""
    return float(block_overhead_cycles + 1)


def drain_loops(k: int, n: int, outs: int, blocks_per_row: int, rows: int) -> list[Loop]:
    """The output registers drain during the next block's first ``outs`` MAC iterations;
    when K is shorter, DRAIN_REST writes the rest; FLUSH empties them at the end."""
    valid = [min(outs, n - b * outs) for b in range(blocks_per_row)]
    rest: dict[int, int] = {}
    for i in range(1, rows * blocks_per_row):
        extra = valid[(i - 1) % blocks_per_row] - k
        if extra > 0:
            rest[extra] = rest.get(extra, 0) + 1
    loops = [Loop("DRAIN_REST", t, 1, SIMPLE_DEPTH, e) for t, e in sorted(rest.items())]
    if rows:
        loops.append(Loop("FLUSH", valid[-1], 1, SIMPLE_DEPTH, 1))
    return loops


def drain_cycles(est: Estimate) -> float:
    """Cycles of the output-register loops outside the MAC loop (DRAIN_REST, FLUSH)."""
    return sum(lp.cycles for lp in est.loops if lp.name in ("DRAIN_REST", "FLUSH"))
