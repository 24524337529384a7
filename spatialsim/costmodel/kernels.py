"""Cycle costs of kernel work items, for a design graph node's attributes.

Vitis reports a pipelined loop as II x (trips - 1) + iteration latency; a systolic array
adds fill and drain per output block on top of its K-cycle reduction (Chen 2024 prefill); fp32
reductions run at II = ``reduction_ii`` (4 in the chen2024 designs). The formulas belong to
the kinds' parameter dataclasses (``spatialsim/kinds/``); these functions apply them to a
node's attribute mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spatialsim.costmodel.loops import pipelined
from spatialsim.costmodel.params import CostParams
from spatialsim.kinds import kind

Attrs = Mapping[str, Any]

__all__ = [
    "attn_block_count",
    "gemv_outputs_per_pass",
    "gemv_pass_bytes_per_engine",
    "gemv_pass_cycles",
    "gemv_passes",
    "linear_block_weight_bytes",
    "linear_blocks",
    "linear_outputs_per_block",
    "output_burst_words",
    "pipelined",
]


def _p(attrs: Attrs) -> Any:
    return kind(attrs["kind"]).partial("?", attrs)


def linear_outputs_per_block(attrs: Attrs) -> int:
    """Output features one pass of the array produces: PE columns x MACs per DSP."""
    return int(_p(attrs).outputs_per_block)


def linear_blocks(attrs: Attrs) -> int:
    """Output blocks per pack: ceil(N / outputs per block)."""
    return int(_p(attrs).blocks)


def linear_block_weight_bytes(attrs: Attrs) -> float:
    """Weights one block streams: K x (cols x pack) weights of ``weight_bits``."""
    return float(_p(attrs).block_weight_bytes)


def gemv_outputs_per_pass(attrs: Attrs) -> int:
    """Outputs all engines produce in one pass over K (each PE holds ``pack`` weights)."""
    return int(_p(attrs).outputs_per_pass)


def gemv_passes(attrs: Attrs) -> int:
    return int(_p(attrs).passes)


def gemv_pass_cycles(attrs: Attrs, params: CostParams) -> float:
    """One pass: the broadcast activation walks K, one weight beat per cycle per engine."""
    return float(_p(attrs).pass_cycles(params))


def gemv_pass_bytes_per_engine(attrs: Attrs) -> float:
    """Weight bytes one engine reads in one pass (K beats of pes x pack weights)."""
    return float(_p(attrs).pass_bytes_per_engine)


def attn_block_count(attrs: Attrs, keys: int) -> int:
    """Output blocks per (pack, head): keys for Q.K^T, head_dim for softmax.V."""
    return int(_p(attrs).blocks(keys))


def output_burst_words(attrs: Attrs) -> int:
    """Words an array kernel finishes at once (one output block) and holds in its output
    registers while the next block computes; 0 for kernels that emit word by word."""
    return int(_p(attrs).output_burst_words())
