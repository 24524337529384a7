"""The systolic linear (prefill, Chen 2024 prefill): an output-stationary array of ``rows``
tokens by ``cols`` PE columns, ``pack`` MACs per DSP, weights streamed from HBM.

Per pack it computes ceil(N / (cols x pack)) output blocks, each a K-cycle reduction plus
fill and drain (``block_overhead_cycles``); block 0 streams the input row, later blocks
replay it; every block streams its weights (re-read once per pack).

How a pack's outputs reach the consumer (``emit``, a structural choice):

- ``block`` (default; hw_kernels' linear.h and the chen2024 arrays, whose outputs drain
  column by column after each block, Chen 2024 prefill): each block's outputs leave while
  the next block computes, so the consumer starts on the first block;
- ``pack``: the outputs go to a double-buffered output row that is written to the
  consumer whole once the pack's last block is done (the write overlaps the next pack).
  The kernel's own latency is the same; its consumer starts a pack later.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from spatialsim.costmodel.loops import (
    Estimate,
    Loop,
    array_prologue,
    drain_cycles,
    drain_loops,
    mac_depth,
    make_estimate,
)
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.kinds.base import (
    Coeffs,
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    bits,
    block_overhead,
    count,
    param,
    port_bits,
    ports,
)
from spatialsim.kinds.registry import KindSpec, register
from spatialsim.workload.operators import matmul_macs, weight_bytes


@dataclass(frozen=True)
class LinearParams(KernelParams):
    KIND = "linear"

    rows: int = count("systolic array rows (tokens of a pack)", 1, 64)
    cols: int = count("systolic array PE columns", 1, 256)
    pack: int = count("MACs per DSP (weights packed per DSP word)", 1, 4)
    in_features: int = count("reduction length K")
    out_features: int = count("output features N")
    weight_bits: int = bits("weight bit width")
    act_bits: int = bits("activation bit width")
    out_dtype: str = param("output type after re-quantisation", choices=("int8", "fp32"))
    bias: bool = param("add an int16 bias before re-quantisation")
    block_overhead_cycles: float = block_overhead()
    ports: tuple[str, ...] = ports()
    port_bits: int = port_bits()
    emit: str = param(
        "'block': each block's outputs go to the consumer as the next block computes; "
        "'pack': the pack's outputs go whole after its last block",
        choices=("block", "pack"),
        default="block",
    )

    @property
    def outputs_per_block(self) -> int:
        """Output features one pass of the array produces: PE columns x MACs per DSP."""
        return self.cols * self.pack

    @property
    def blocks(self) -> int:
        """Output blocks per pack: ceil(N / outputs per block)."""
        return ceil(self.out_features / self.outputs_per_block)

    @property
    def block_cycles(self) -> float:
        """One output block: K reduction cycles plus the array's fill and drain."""
        return float(self.in_features + self.block_overhead_cycles)

    @property
    def block_weight_bytes(self) -> float:
        """Weights one block streams: K x (cols x pack) weights of ``weight_bits``."""
        return self.in_features * self.outputs_per_block * self.weight_bits / 8

    def macs_per_cycle(self, tokens_per_pack: int) -> int:
        """A systolic array's rows hold the tokens of a pack, so with fewer tokens than rows
        (decode with single-token packs) only that many rows do useful work."""
        return min(self.rows, tokens_per_pack) * self.cols * self.pack

    def weight_bits_per_cycle(self) -> int:
        return self.cols * self.pack * self.weight_bits

    def output_burst_words(self) -> int:
        return self.outputs_per_block

    def stream_words_in(self) -> int | None:
        return self.in_features

    def stream_words_out(self) -> int | None:
        return self.out_features


def work(p: LinearParams, w: Work) -> KernelWork:
    """Every token of every pack, with the weights re-read once per pack."""
    return KernelWork(
        macs=matmul_macs(w.tokens, p.in_features, p.out_features),
        weight_bytes=weight_bytes(p.in_features, p.out_features, p.weight_bits) * w.packs,
    )


def estimate(name: str, p: LinearParams, w: Work, cost: CostParams) -> Estimate:
    k = p.in_features
    loops = [Loop("MAC", k, 1, mac_depth(p.block_overhead_cycles), w.packs * p.blocks)]
    loops += drain_loops(k, p.out_features, p.outputs_per_block, p.blocks, w.packs)
    return make_estimate(name, p.KIND, loops, w.packs * array_prologue(k, cost), cost)


def body(k: KernelProcess) -> Proc:
    """Block 0 streams the input row, later blocks replay it; every block streams its
    weights from memory (re-read once per pack)."""
    p: LinearParams = k.p
    kdim, n = p.in_features, p.out_features
    tail = mac_depth(p.block_overhead_cycles) - 1
    block = kdim + tail
    per_block, block_bytes = p.outputs_per_block, p.block_weight_bytes
    groups = k.gran.split(p.blocks)
    weights = k.open(kdim * n * p.weight_bits / 8)
    inp = k.stream_in()
    prologue = array_prologue(kdim, k.params)
    whole = p.emit == "pack"
    start = 0.0
    for _ in k.step.pack_sizes():
        left = n
        if whole:
            start = k.now
        k.busy(prologue)
        for gi, g in enumerate(groups):
            ready = yield from k.request(weights, g * block_bytes)
            if gi == 0:
                yield from k.consume(inp, kdim)
                k.busy(tail + (g - 1) * block)
            else:
                k.busy(g * block)
            k.wait_memory(ready)
            out = min(left, g * per_block)
            left -= out
            if not whole:
                # a group of g blocks finished one block at a time: outputs trickled over it
                yield from k.emit(out, span=(g - 1) * block)
        if whole:
            # the finished row is written from the other half of the output buffer
            yield from k.emit(n, span=min(float(n), k.now - start))
    k.busy(drain_cycles(k.estimate(estimate, k.step)))


def hls(p: LinearParams) -> dict[str, Any]:
    """linear.h's LinearCfg: COLS, PACK, W_BITS, HAS_BIAS (rows are the pack size P)."""
    return {
        "COLS": p.cols,
        "PACK": p.pack,
        "W_BITS": p.weight_bits,
        "BIAS": p.bias,
        "ROWS": p.rows,
        "ACT_BITS": p.act_bits,
        "PORTS": len(p.ports),
        "EMIT": p.emit,
    }


# Linear_layer_*: 176 DSP = 128 PEs + 6 per lane for fp32 re-quantisation; ~58.5k LUT
# (W4A8 region reports).
COEFFS = Coeffs(
    per_pe={"dsp": 1, "lut": 456.7, "ff": 428.2}, per_lane={"dsp": 6}, fixed={"uram": 1}
)


def resources(p: LinearParams) -> dict[str, float]:
    return COEFFS.scaled(p.rows * p.cols, p.rows)


SPEC = register(
    KindSpec("linear", __doc__ or "", LinearParams, work, estimate, body, hls, resources)
)
