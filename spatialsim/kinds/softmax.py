"""Softmax over each score row (fp32): a max pass, then exp-and-sum at the reduction II.

Per row it reads with a running max (II 1), then exponentiates and sums at
``reduction_ii``, writing exp(x - max); the row's 1/sum travels with it and softmax.V
applies it when it re-quantises (deferred normalisation). ``heads_parallel`` rows go side
by side.

Where the probabilities leave (``output``, a structural choice):

- ``streamed`` (default; the W4A8 build): each probability is written as the exp-and-sum
  loop computes it;
- ``buffered`` (the W8A8 build): the exp-and-sum loop stores the row and an OUT loop writes
  it afterwards, two keys per cycle. Chen 2024 does not describe the W8A8 softmax; its
  HLS estimate (3.3a: 2,934,785 cycles at l = 512, 1,024 rows) exceeds the streamed
  structure by exactly l/2 + 4 cycles per row, which such a pass explains (ceil(l / 2)
  trips at II 1, iteration latency ``softmax_out_depth_cycles``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from spatialsim.costmodel.loops import SIMPLE_DEPTH, Estimate, Loop, make_estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.kinds.base import (
    Coeffs,
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    count,
    head_chunks,
    head_groups,
    lanes,
    param,
    reduction_ii,
    replace,
)
from spatialsim.kinds.registry import KindSpec, register


@dataclass(frozen=True)
class SoftmaxParams(KernelParams):
    KIND = "softmax"

    lanes: int = lanes()
    heads: int = count("attention heads")
    reduction_ii: float = reduction_ii()
    heads_parallel: int = count("heads processed side by side", 1, 128)
    output: str = param(
        "'streamed': probabilities written as the exp-and-sum loop computes them; "
        "'buffered': the row is stored, then written two keys per cycle by an OUT loop",
        choices=("streamed", "buffered"),
        default="streamed",
    )


def work(p: SoftmaxParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * w.keys * p.heads)


def estimate(name: str, p: SoftmaxParams, w: Work, cost: CostParams) -> Estimate:
    rows = w.packs * head_groups(p.heads, p.heads_parallel)
    loops = [
        Loop("MAX", w.keys, 1, SIMPLE_DEPTH, rows),
        Loop("EXP_SUM", w.keys, p.reduction_ii, cost.softmax_exp_depth_cycles, rows),
    ]
    if p.output == "buffered":
        loops.append(Loop("OUT", ceil(w.keys / 2), 1, cost.softmax_out_depth_cycles, rows))
    return make_estimate(name, p.KIND, loops, 0.0, cost)


def row_estimate(name: str, p: SoftmaxParams, w: Work, cost: CostParams) -> Estimate:
    """The estimate for one head's rows (what the body times each head group by)."""
    return estimate(name, replace(p, heads=1, heads_parallel=1), w, cost)


def body(k: KernelProcess) -> Proc:
    p: SoftmaxParams = k.p
    keys = k.step.keys
    one = k.estimate(row_estimate, Work(k.step.phase, 1, 1, keys, 0))
    mx, ex = one.loop("MAX"), one.loop("EXP_SUM")
    out = one.loop("OUT") if p.output == "buffered" else None
    inp = k.stream_in()
    for _ in k.step.pack_sizes():
        for heads, gg in head_chunks(k, p.heads, p.heads_parallel):
            words = heads * keys
            yield from k.consume(inp, words, gg * mx.ii * keys / words)
            k.busy(gg * (mx.depth - mx.ii))
            if out is None:
                yield from k.produce(words, gg * ex.ii * keys / words)
                k.busy(gg * (ex.depth - ex.ii))
            else:
                k.busy(gg * ex.cycles)
                yield from k.produce(words, gg * out.trips / words)
                k.busy(gg * (out.depth - out.ii))


def hls(p: SoftmaxParams) -> dict[str, Any]:
    return {
        "HP": p.heads_parallel,
        "REDUCTION_II": p.reduction_ii,
        "BUFFERED": p.output == "buffered",
    }


# Softmax_layer (W4A8 region reports)
COEFFS = Coeffs(per_lane={"dsp": 4.75, "lut": 978.5, "ff": 635.1})


def resources(p: SoftmaxParams) -> dict[str, float]:
    return COEFFS.scaled(0, p.lanes * p.heads_parallel)


SPEC = register(
    KindSpec("softmax", __doc__ or "", SoftmaxParams, work, estimate, body, hls, resources)
)
