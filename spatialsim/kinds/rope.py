"""Rotary position embedding (RoPE) on the Q or K stream, fp32 in, int8 out.

LLaMA-family layers rotate each head's Q and K by the token's position before attention
(Su et al. 2021; Hugging Face's ``rotate_half`` layout, which the public LLaMA checkpoints
use): element ``i`` of the first half of a head pairs with element ``i + head_dim/2``,

    out_i         = x_i * cos(pos * f_i) - x_{i+h} * sin(pos * f_i)
    out_{i+h}     = x_{i+h} * cos(pos * f_i) + x_i * sin(pos * f_i),  f_i = theta^(-2i/hd)

The kernel sits between a projection (fp32 out) and the Q buffer or K writer, and writes
int8 at the static scale attention expects. Because an output needs its partner from the
other half of the head, a head is read whole (READ, II 1) and then written (ROT, II 1):
2 x head_dim cycles per head and pack, far below the projection's output interval.

The angles come from a table of cos and sin, ``max_seq_len`` positions x ``head_dim/2``
frequencies each, computed by the host from the model's ``rope_theta`` and held on chip
(URAM); ``max_seq_len`` is the design's longest context. What the table holds is the
host's business: a frequency scaling such as Llama-3's ``rope_scaling`` changes its
contents, not the kernel's loops or arithmetic. ROT's iteration latency
(``rot_depth_cycles``) is an assumption: table read 2, fp32 multiply 4, subtract 5,
multiply by the inverse scale 4, round and saturate 3 = 18 cycles (no HLS report of a RoPE
kernel exists here; calibration can fit it).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from spatialsim.costmodel.loops import SIMPLE_DEPTH, Estimate, Loop, make_estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.errors import UserError
from spatialsim.kinds.base import (
    Coeffs,
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    RowStream,
    count,
    features,
    lanes,
    param,
    vector,
    words,
)
from spatialsim.kinds.registry import KindSpec, register

ROT_DEPTH = 18.0  # see the module docstring: an assumption
FP32_PER_URAM = 8192  # 4,096 x 72-bit words, two fp32 values each


@dataclass(frozen=True)
class RopeParams(RowStream, KernelParams):
    KIND = "rope"

    lanes: int = lanes()
    features: int = features()
    head_dim: int = count("elements per head (rotated in two halves)", 2, 1 << 16)
    max_seq_len: int = count("positions the angle table holds (the design's longest context)")
    theta: float = param("RoPE base of the angle table (the model's rope_theta)", low=1, high=1e9)
    rot_depth_cycles: float = param(
        "iteration latency of the ROT loop (table read, rotation, quantisation)",
        low=1,
        high=1e4,
        default=ROT_DEPTH,
    )
    vector: int = vector()

    def __post_init__(self) -> None:
        hd, f = self.head_dim, self.features
        if hd is not None and hd % 2:
            raise UserError(f"head_dim {hd} must be even (RoPE rotates pairs)")
        if hd is not None and f is not None and f % hd:
            raise UserError(f"features {f} must be a whole number of heads of {hd}")

    @property
    def heads(self) -> int:
        return self.features // self.head_dim

    @property
    def head_words(self) -> int:
        return words(self.head_dim, self.vector)


def work(p: RopeParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * p.features)


def estimate(name: str, p: RopeParams, w: Work, cost: CostParams) -> Estimate:
    entries = w.packs * p.heads
    loops = [
        Loop("READ", p.head_words, 1, SIMPLE_DEPTH, entries),
        Loop("ROT", p.head_words, 1, p.rot_depth_cycles, entries),
    ]
    return make_estimate(name, p.KIND, loops, 0.0, cost)


def body(k: KernelProcess) -> Proc:
    """Per pack and head: read the head, then write it rotated."""
    p: RopeParams = k.p
    hw = p.head_words
    inp = k.stream_in()
    for _ in k.step.pack_sizes():
        for _ in range(p.heads):
            yield from k.consume(inp, hw, 1.0)
            k.busy(SIMPLE_DEPTH - 1 + p.rot_depth_cycles - 1)
            yield from k.produce(hw, 1.0)


def hls(p: RopeParams) -> dict[str, Any]:
    return {"HD": p.head_dim, "MAXL": p.max_seq_len, "THETA": p.theta}


# An assumption, no report of a RoPE kernel: per lane two fp32 multiplies and an add per
# output (3 + 3 + 2 DSP) plus the quantising multiply (3); LUT and FF as the LayerNorm's
# fp32 datapath (W4A8 region reports); the head buffer in one BRAM per lane.
COEFFS = Coeffs(per_lane={"dsp": 11, "lut": 1600, "ff": 2342, "bram36": 1})


def table_urams(p: RopeParams) -> int:
    """URAMs of the cos and sin table: max_seq_len x head_dim fp32 values."""
    return ceil(p.max_seq_len * p.head_dim / FP32_PER_URAM)


def resources(p: RopeParams) -> dict[str, float]:
    r = COEFFS.scaled(0, p.lanes * p.vector)
    r["uram"] += table_urams(p)
    return r


SPEC = register(KindSpec("rope", __doc__ or "", RopeParams, work, estimate, body, hls, resources))
