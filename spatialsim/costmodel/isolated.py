"""Isolated cycle estimates of kernels, loop by loop, the way Vitis HLS reports them.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from spatialsim.costmodel.kernels import (
    attn_block_count,
    gemv_outputs_per_pass,
    gemv_passes,
    linear_blocks,
    pipelined,
)
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work

Attrs = dict[str, Any]
SIMPLE_DEPTH = 2  # read, operate, write: an element loop's iteration latency


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

    def to_json(self) -> dict[str, Any]:
        return {"cycles": round(self.cycles, 3), "kind": self.kind,
                "loops": {lp.name: {"trips": lp.trips, "ii": lp.ii, "depth": lp.depth,
                                    "entries": lp.entries, "cycles": lp.cycles}
                          for lp in self.loops},
                "fitted_cycles": self.fitted, "call_cycles": self.call}


def head_groups(attrs: Attrs) -> int:
    """Passes over the heads when ``heads_parallel`` of them go side by side."""
    return ceil(int(attrs["heads"]) / int(attrs.get("heads_parallel", 1)))


def array_prologue(k: int, params: CostParams) -> float:
    """Fitted per-row prologue of a systolic array (K/16 + 27 cycles in the W4A8 report)."""
    return k / params.array_prologue_divisor + params.array_prologue_cycles


def row_store_fitted(features: int, params: CostParams) -> float:
    """Fitted per-pack extra of the buffer writers and residuals (0.5 cycle per word)."""
    return features * params.row_store_cycles_per_word + params.row_store_overhead_cycles


def mac_depth(attrs: Attrs) -> float:
    """Iteration latency of a systolic MAC loop: K + block_overhead_cycles per block."""
    return float(attrs["block_overhead_cycles"] + 1)


def estimate(name: str, attrs: Attrs, work: Work, params: CostParams) -> Estimate:
    """The isolated estimate of kernel ``name`` (a design graph node) for ``work``."""
    return _ESTIMATORS[attrs["kind"]](name, attrs, work, params)


def _est(name: str, attrs: Attrs, loops: list[Loop], fitted: float,
         params: CostParams, call: float | None = None) -> Estimate:
    return Estimate(name, attrs["kind"], tuple(lp for lp in loops if lp.entries and lp.trips),
                    fitted, params.call_overhead_cycles if call is None else call)


def _loader(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    loops = [Loop("LOAD", a["features"], 1, SIMPLE_DEPTH, w.packs)]
    return _est(name, a, loops, 0.0, p, p.axi_call_cycles)


def _writer(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    loops = [Loop("STORE", a["features"], 1, SIMPLE_DEPTH, w.packs)]
    return _est(name, a, loops, 0.0, p, p.axi_call_cycles)


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


def _linear(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    k, outs = a["in_features"], a["cols"] * a["pack"]
    blocks = linear_blocks(a)
    loops = [Loop("MAC", k, 1, mac_depth(a), w.packs * blocks)]
    loops += drain_loops(k, a["out_features"], outs, blocks, w.packs)
    return _est(name, a, loops, w.packs * array_prologue(k, p), p)


def _gemv(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    k = a["in_features"]
    passes = gemv_passes(a)
    loops = [Loop("BUFFER", k, 1, SIMPLE_DEPTH, w.tokens),
             Loop("MAC", k, 1, p.gemv_pass_overhead_cycles + 1, w.tokens * passes)]
    loops += drain_loops(k, a["out_features"], gemv_outputs_per_pass(a), passes, w.tokens)
    return _est(name, a, loops, 0.0, p)


def _attn_matmul(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    qk = a["op"] == "qk"
    k = a["head_dim"] if qk else w.keys
    n = w.keys if qk else a["head_dim"]
    rows = w.packs * a["heads"]
    blocks = attn_block_count(a, w.keys)
    loops = [Loop("MAC", k, 1, mac_depth(a), rows * blocks)]
    loops += drain_loops(k, n, a["cols"] * a["pack"], blocks, rows)
    return _est(name, a, loops, rows * array_prologue(k, p), p)


def _attn_gemv(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    per_row = ceil(a["head_dim"] / a["lanes"])
    head_in = a["head_dim"] if a["op"] == "qk" else w.keys
    groups = w.tokens * head_groups(a)
    loops = [Loop("LOAD", head_in, 1, SIMPLE_DEPTH, groups),
             Loop("ROW", w.keys, per_row, per_row + p.attn_gemv_overhead_cycles, groups)]
    return _est(name, a, loops, 0.0, p)


def _kv_writer(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    f = a["features"]
    beats = ceil(w.cached * f * a["act_bits"] / a["port_bits"])
    loops = [Loop("CACHE_LOAD", beats, 1, SIMPLE_DEPTH, 1 if w.cached else 0),
             Loop("WRITE", f, a["ii"], SIMPLE_DEPTH, w.packs)]
    return _est(name, a, loops, w.packs * row_store_fitted(f, p), p)


def _buffer(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    f = a["features"]
    loops = [Loop("STORE", f, 1, SIMPLE_DEPTH, w.packs)]
    return _est(name, a, loops, w.packs * row_store_fitted(f, p), p)


def _mask(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    loops = [Loop("MASK", w.keys, 1, 1, w.packs * head_groups(a))]
    return _est(name, a, loops, 0.0, p)


def _softmax(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    rows = w.packs * head_groups(a)
    loops = [Loop("MAX", w.keys, 1, SIMPLE_DEPTH, rows),
             Loop("EXP_SUM", w.keys, a["reduction_ii"], p.softmax_exp_depth_cycles, rows)]
    return _est(name, a, loops, 0.0, p)


def _layernorm(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    f = a["features"]
    loops = [Loop("SUM", f, a["reduction_ii"], SIMPLE_DEPTH, w.packs),
             Loop("NORM", f, 1, p.layernorm_norm_depth_cycles, w.packs)]
    return _est(name, a, loops, 0.0, p)


def _activation(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    """GeLU reads one word per output (II 1); SwiGLU two, gate and up (II 2)."""
    ii = 2 if a["fn"] == "silu_mul" else 1
    loops = [Loop("ACT", a["features"], ii, p.activation_depth_cycles, w.packs)]
    return _est(name, a, loops, 0.0, p)


def _residual(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    f = a["features"]
    loops = [Loop("ADD", f, 1, SIMPLE_DEPTH, w.packs)]
    return _est(name, a, loops, w.packs * row_store_fitted(f, p), p)


def _splitter(name: str, a: Attrs, w: Work, p: CostParams) -> Estimate:
    loops = [Loop("SPLIT", a["features"], 1, SIMPLE_DEPTH, w.packs)]
    return _est(name, a, loops, 0.0, p)


_ESTIMATORS = {
    "loader": _loader, "writer": _writer, "linear": _linear, "gemv": _gemv,
    "attn_matmul": _attn_matmul, "attn_gemv": _attn_gemv, "kv_writer": _kv_writer,
    "buffer": _buffer, "mask": _mask, "softmax": _softmax, "layernorm": _layernorm,
    "activation": _activation, "residual": _residual, "splitter": _splitter,
}


def weight_loader(name: str, linears: list[Attrs], work: Work,
                  params: CostParams) -> Estimate:
    """A region's weight loader: one weight word per cycle for each of its linears, the
    linears' streams side by side (its latency is the longest one)."""
    longest: list[Loop] = []
    for a in linears:
        if a["kind"] == "linear":
            lp = Loop("WEIGHTS", a["in_features"], 1, 1, work.packs * linear_blocks(a))
        else:
            beats = ceil(a["in_features"] * a["pes"] * a["pack"] * a["weight_bits"]
                         / a["port_bits"])
            lp = Loop("WEIGHTS", beats, 1, 1, work.tokens * gemv_passes(a))
        if not longest or lp.cycles > longest[0].cycles:
            longest = [lp]
    return Estimate(name, "weight_loader", tuple(longest), 0.0, params.axi_call_cycles)


def outputs_per_pass(attrs: Attrs) -> int:
    """Outputs a matrix kernel completes per block or pass (for reports)."""
    if attrs["kind"] == "gemv":
        return gemv_outputs_per_pass(attrs)
    return int(attrs["cols"] * attrs["pack"])
