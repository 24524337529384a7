"""Cycle costs of kernel work items: pipelined loops, systolic blocks, GEMV passes, rows.

Vitis reports a pipelined loop as II x (trips - 1) + iteration latency; a systolic array
adds fill and drain per output block on top of its K-cycle reduction (chen2024.md 3.1); fp32
reductions run at II = ``reduction_ii`` (4 in the chen2024 designs). Every function is pure:
kernel attributes (a design graph node) and sizes in, cycles out.
"""

from __future__ import annotations

from math import ceil
from typing import Any

from spatialsim.costmodel.params import CostParams

Attrs = dict[str, Any]


def pipelined(trips: int, ii: float, depth: float) -> float:
    """Latency of a pipelined loop: II x (trips - 1) + iteration latency; 0 when empty."""
    return 0.0 if trips <= 0 else ii * (trips - 1) + depth


# ---- systolic linear (prefill, chen2024.md 3.1) ---------------------------------------------

def linear_outputs_per_block(attrs: Attrs) -> int:
    """Output features one pass of the array produces: PE columns x MACs per DSP."""
    return int(attrs["cols"] * attrs["pack"])


def linear_blocks(attrs: Attrs) -> int:
    """Output blocks per pack: ceil(N / outputs per block)."""
    return ceil(int(attrs["out_features"]) / linear_outputs_per_block(attrs))


def linear_block_cycles(attrs: Attrs) -> float:
    """One output block: K reduction cycles plus the array's fill and drain."""
    return float(attrs["in_features"] + attrs["block_overhead_cycles"])


def linear_block_weight_bytes(attrs: Attrs) -> float:
    """Weights one block streams: K x (cols x pack) weights of ``weight_bits``."""
    return float(attrs["in_features"] * linear_outputs_per_block(attrs) * attrs["weight_bits"] / 8)


# ---- GEMV engines (decode, chen2024.md 3.3) -------------------------------------------------

def gemv_outputs_per_pass(attrs: Attrs) -> int:
    """Outputs all engines produce in one pass over K (each PE holds ``pack`` weights)."""
    return int(attrs["engines"] * attrs["pes"] * attrs["pack"])


def gemv_passes(attrs: Attrs) -> int:
    return ceil(int(attrs["out_features"]) / gemv_outputs_per_pass(attrs))


def gemv_pass_cycles(attrs: Attrs, params: CostParams) -> float:
    """One pass: the broadcast activation walks K, one weight beat per cycle per engine
    (the MAC loop: II 1, depth = overhead + 1)."""
    return float(attrs["in_features"] + params.gemv_pass_overhead_cycles)


def gemv_pass_bytes_per_engine(attrs: Attrs) -> float:
    """Weight bytes one engine reads in one pass (K beats of pes x pack weights)."""
    return float(attrs["in_features"] * attrs["pes"] * attrs["pack"] * attrs["weight_bits"] / 8)


# ---- attention ----------------------------------------------------------------------------

def attn_block_count(attrs: Attrs, keys: int) -> int:
    """Output blocks per (pack, head): keys for Q.K^T, head_dim for softmax.V."""
    outputs = keys if attrs["op"] == "qk" else attrs["head_dim"]
    return ceil(int(outputs) / int(attrs["cols"] * attrs["pack"]))


def attn_block_cycles(attrs: Attrs, keys: int) -> float:
    """One block reduces over head_dim (Q.K^T) or over the keys (softmax.V)."""
    k = attrs["head_dim"] if attrs["op"] == "qk" else keys
    return float(k + attrs["block_overhead_cycles"])


def attn_head_cycles(attrs: Attrs, keys: int) -> float:
    """A systolic attention array's time for one head of one pack."""
    return attn_block_count(attrs, keys) * attn_block_cycles(attrs, keys)


def attn_gemv_group_cycles(attrs: Attrs, keys: int, params: CostParams) -> float:
    """Decode attention for one group of ``heads_parallel`` heads against ``keys`` cached rows.

    Q.K^T reads one cached K row per ceil(head_dim / lanes) cycles; softmax.V accumulates one
    V row in the same time.
    """
    per_row = ceil(attrs["head_dim"] / attrs["lanes"])
    return pipelined(keys, per_row, per_row + params.attn_gemv_overhead_cycles)



def output_burst_words(attrs: Attrs) -> int:
    """Words an array kernel finishes at once (one output block) and holds in its output
    registers while the next block computes; 0 for kernels that emit word by word."""
    kind = attrs["kind"]
    if kind in ("linear", "attn_matmul"):
        return int(attrs["cols"] * attrs["pack"])
    if kind == "gemv":
        return gemv_outputs_per_pass(attrs)
    if kind == "attn_gemv" and attrs["op"] == "sv":
        return int(attrs["heads_parallel"] * attrs["head_dim"])
    return 0
