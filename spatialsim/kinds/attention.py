"""Attention: the systolic Q.K^T and softmax.V arrays of prefill (``attn_matmul``), the
decode attention engines (``attn_gemv``) and the causal mask between them.

The arrays wait for the K/V (and Q) buffers to be complete (the synchronisation point) and
compute every key of a row, as the HLS arrays do; the mask discards future keys. Decode
processes ``heads_parallel`` heads side by side against the cached rows.

Grouped-query and multi-query attention (``kv_heads`` < ``heads``): Q head ``h`` reads
K/V head ``h // (heads / kv_heads)`` of the K and V buffers, which hold ``kv_heads`` heads
(LLaMA-3, Mistral, Qwen2). The work per Q head is that of multi-head attention; what
shrinks is the K/V projection, the buffers and the cache (kinds/buffers.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from spatialsim.costmodel.loops import (
    SIMPLE_DEPTH,
    Estimate,
    Loop,
    array_prologue,
    drain_cycles,
    drain_loops,
    mac_depth,
    make_estimate,
    pipelined,
)
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.errors import UserError
from spatialsim.kinds.base import (
    Coeffs,
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    bits,
    block_overhead,
    count,
    head_chunks,
    head_groups,
    lanes,
    param,
    split,
    vector,
    words,
)
from spatialsim.kinds.registry import KindSpec, register
from spatialsim.workload.operators import attention_macs

OPS = ("qk", "sv")


def kv_heads() -> Any:
    return param(
        "K/V heads the buffers hold (grouped-query attention: each serves heads / kv_heads "
        "Q heads); 0: as many as heads (multi-head attention)",
        low=0,
        high=1 << 16,
        default=0,
    )


class GroupedHeads:
    """Mixed into the attention kinds: the grouped-query layout of the K/V buffers."""

    heads: int
    kv_heads: int

    def __post_init__(self) -> None:
        h, kv = self.heads, self.kv_heads
        if h is not None and kv and h % kv:
            raise UserError(
                f"heads ({h}) must be a multiple of kv_heads ({kv}); valid "
                "kv_heads divide the heads, or 0 for one K/V head per Q head"
            )

    @property
    def kv_groups(self) -> int:
        """K/V heads in the buffers."""
        return self.kv_heads or self.heads


# ---- systolic arrays (prefill) ----------------------------------------------------------


@dataclass(frozen=True)
class AttnMatmulParams(GroupedHeads, KernelParams):
    KIND = "attn_matmul"

    op: str = param("which product: Q.K^T ('qk') or softmax.V ('sv')", choices=OPS)
    rows: int = count("systolic array rows (tokens of a pack)", 1, 64)
    cols: int = count("systolic array PE columns", 1, 256)
    pack: int = count("MACs per DSP", 1, 4)
    heads: int = count("attention heads")
    head_dim: int = count("elements per head")
    act_bits: int = bits("activation bit width")
    block_overhead_cycles: float = block_overhead()
    emit: str = param(
        "'block': each block's scores or context leave as the next block computes; 'pack': "
        "the pack's outputs for all heads leave together after its last head",
        choices=("block", "pack"),
        default="block",
    )
    kv_heads: int = kv_heads()

    def blocks(self, keys: int) -> int:
        """Output blocks per (pack, head): keys for Q.K^T, head_dim for softmax.V."""
        outputs = keys if self.op == "qk" else self.head_dim
        return ceil(outputs / (self.cols * self.pack))

    def block_cycles(self, keys: int) -> float:
        """One block reduces over head_dim (Q.K^T) or over the keys (softmax.V)."""
        k = self.head_dim if self.op == "qk" else keys
        return float(k + self.block_overhead_cycles)

    def head_cycles(self, keys: int) -> float:
        """The array's time for one head of one pack."""
        return self.blocks(keys) * self.block_cycles(keys)

    def macs_per_cycle(self, tokens_per_pack: int) -> int:
        return min(self.rows, tokens_per_pack) * self.cols * self.pack

    def output_burst_words(self) -> int:
        return self.cols * self.pack

    def stream_words_out(self) -> int | None:
        """softmax.V writes the context row (heads x head_dim); Q.K^T's scores depend on
        the sequence, not checked."""
        return self.heads * self.head_dim if self.op == "sv" else None


def _attention_work(p: AttnMatmulParams | AttnGemvParams, w: Work) -> KernelWork:
    return KernelWork(macs=attention_macs(w.tokens, w.keys, p.heads, p.head_dim))


def matmul_estimate(name: str, p: AttnMatmulParams, w: Work, cost: CostParams) -> Estimate:
    qk = p.op == "qk"
    k = p.head_dim if qk else w.keys
    n = w.keys if qk else p.head_dim
    rows = w.packs * p.heads
    blocks = p.blocks(w.keys)
    loops = [Loop("MAC", k, 1, mac_depth(p.block_overhead_cycles), rows * blocks)]
    loops += drain_loops(k, n, p.cols * p.pack, blocks, rows)
    return make_estimate(name, p.KIND, loops, rows * array_prologue(k, cost), cost)


def matmul_body(k: KernelProcess) -> Proc:
    """Per (pack, head) after the K/V (and Q) buffers are complete. Softmax.V's first block
    reads the head's probability row from its stream; Q.K^T reads Q from its buffer.
    Outputs are scores or context, block by block."""
    p: AttnMatmulParams = k.p
    keys = k.step.keys
    qk = p.op == "qk"
    head_out = keys if qk else p.head_dim
    kdim = p.head_dim if qk else keys
    blocks = p.blocks(keys)
    block = kdim + mac_depth(p.block_overhead_cycles) - 1
    prologue = array_prologue(kdim, k.params)
    for buf in k.handoffs():
        yield from k.get(buf, 1)  # the layer's K (or V, or Q) is complete
    inp = None if qk else k.stream_in()
    whole = p.emit == "pack"
    fine = k.gran.chunks_per_row is None and not whole
    block_out = split(head_out, blocks)
    for _ in k.step.pack_sizes():
        start = k.now
        for hg in k.gran.split(p.heads):
            k.busy(hg * prologue)
            if inp is not None:  # the first block's reduction loop reads the row
                yield from k.consume(inp, hg * kdim)
                first = block - kdim
            else:
                first = block
            if fine:  # block by block, each leaving through the output registers
                k.busy(first)
                yield from k.emit(block_out[0])
                for out in block_out[1:]:
                    k.busy(block)
                    yield from k.emit(out)
            else:
                rest = hg * blocks * block - (hg * kdim if inp is not None else 0)
                k.busy(rest)
                if not whole:
                    yield from k.emit(hg * head_out, span=hg * blocks * block - block)
        if whole:  # written from the other half of a double-buffered output row
            out = p.heads * head_out
            yield from k.emit(out, span=min(float(out), k.now - start))
    k.busy(drain_cycles(k.estimate(matmul_estimate, k.step)))


def matmul_hls(p: AttnMatmulParams) -> dict[str, Any]:
    """attention.h's AttnCfg: COLS, PACK (rows are the pack size P, one head at a time)."""
    return {
        "COLS": p.cols,
        "PACK": p.pack,
        "ROWS": p.rows,
        "ACT_BITS": p.act_bits,
        "EMIT": p.emit,
        "KV_HEADS": p.kv_groups,
    }


# ---- decode engines ---------------------------------------------------------------------


@dataclass(frozen=True)
class AttnGemvParams(GroupedHeads, KernelParams):
    KIND = "attn_gemv"

    op: str = param("which product: Q.K^T ('qk') or softmax.V ('sv')", choices=OPS)
    heads_parallel: int = count("heads processed in parallel", 1, 128)
    lanes: int = count("MAC lanes per head (elements of a cached row per cycle)", 1, 1024)
    heads: int = count("attention heads")
    head_dim: int = count("elements per head")
    act_bits: int = bits("activation bit width")
    vector: int = vector()
    kv_heads: int = kv_heads()

    def group_cycles(self, keys: int, cost: CostParams) -> float:
        """One group of ``heads_parallel`` heads against ``keys`` cached rows: Q.K^T reads one
        cached K row per ceil(head_dim / lanes) cycles; softmax.V accumulates one V row in
        the same time."""
        per_row = ceil(self.head_dim / self.lanes)
        return pipelined(keys, per_row, per_row + cost.attn_gemv_overhead_cycles)

    def macs_per_cycle(self, tokens_per_pack: int) -> int:
        return self.heads_parallel * self.lanes

    def output_burst_words(self) -> int:
        return words(self.heads_parallel * self.head_dim, self.vector) if self.op == "sv" else 0

    def stream_words_out(self) -> int | None:
        """softmax.V writes the context row (heads x head_dim, ``vector`` per word);
        Q.K^T's scores depend on the sequence, not checked."""
        return words(self.heads * self.head_dim, self.vector) if self.op == "sv" else None


def gemv_estimate(name: str, p: AttnGemvParams, w: Work, cost: CostParams) -> Estimate:
    per_row = ceil(p.head_dim / p.lanes)
    head_in = p.head_dim if p.op == "qk" else w.keys
    groups = w.tokens * head_groups(p.heads, p.heads_parallel)
    loops = [
        Loop("LOAD", head_in, 1, SIMPLE_DEPTH, groups),
        Loop("ROW", w.keys, per_row, per_row + cost.attn_gemv_overhead_cycles, groups),
    ]
    return make_estimate(name, p.KIND, loops, 0.0, cost)


def gemv_body(k: KernelProcess) -> Proc:
    """``heads_parallel`` heads at a time against the cached rows."""
    p: AttnGemvParams = k.p
    keys = k.step.keys
    qk = p.op == "qk"
    unit = k.estimate(gemv_estimate, Work(k.step.phase, 1, 1, keys, k.step.cached))
    load, row = unit.loop("LOAD"), unit.loop("ROW")
    load_cycles, row_cycles = load.cycles / load.entries, row.cycles / row.entries
    for buf in k.handoffs():
        yield from k.get(buf, 1)
    inp = None if qk else k.stream_in()
    for _ in range(k.step.tokens):
        for heads, gg in head_chunks(k, p.heads, p.heads_parallel):
            if inp is None:  # Q from its buffer
                k.busy(gg * load_cycles)
            else:  # the probabilities of the group's heads, side by side
                probs = heads * keys
                yield from k.consume(inp, probs, gg * (load_cycles - 1) / probs)
                k.busy(gg)
            if qk:  # scores leave as the cached K rows stream past
                yield from k.produce(heads * keys, gg * row_cycles / (heads * keys))
            else:  # each group's context is complete after its last V row
                k.busy(gg * row_cycles)
                out = words(heads * p.head_dim, p.vector)
                yield from k.emit(out, span=(gg - 1) * row_cycles)


def gemv_hls(p: AttnGemvParams) -> dict[str, Any]:
    """attention.h's decode engines: HP heads side by side, LANES lanes per head."""
    return {
        "HP": p.heads_parallel,
        "LANES": p.lanes,
        "ACT_BITS": p.act_bits,
        "KV_HEADS": p.kv_groups,
    }


# ---- mask -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskParams(KernelParams):
    KIND = "mask"

    lanes: int = lanes()
    heads: int = count("attention heads")
    heads_parallel: int = count("heads processed side by side", 1, 128)
    causal: bool = param("causal (decoder) mask rather than padding only")


def mask_work(p: MaskParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * w.keys * p.heads)


def mask_estimate(name: str, p: MaskParams, w: Work, cost: CostParams) -> Estimate:
    loops = [Loop("MASK", w.keys, 1, 1, w.packs * head_groups(p.heads, p.heads_parallel))]
    return make_estimate(name, p.KIND, loops, 0.0, cost)


def mask_body(k: KernelProcess) -> Proc:
    p: MaskParams = k.p
    keys = k.step.keys
    inp = k.stream_in()
    for _ in k.step.pack_sizes():
        for heads, gg in head_chunks(k, p.heads, p.heads_parallel):
            yield from k.take(inp, heads * keys, gg * keys, 1.0)
            yield from k.emit(heads * keys, span=gg * keys)


def mask_hls(p: MaskParams) -> dict[str, Any]:
    return {"HP": p.heads_parallel, "CAUSAL": p.causal}


# W4A8 region reports: Attention_layer (Q.K^T) 192 DSP = 64 PEs + 16 per lane (dequantise,
# 1/sqrt(d) scale); Context_layer (softmax.V) 88 DSP = 64 PEs + 3 per lane, 2 BRAM18;
# Mask_layer. The decode engines reuse the arrays' per-PE and per-lane costs.
COEFFS = {
    "qk": Coeffs(per_pe={"dsp": 1, "lut": 380.1, "ff": 401.1}, per_lane={"dsp": 16}),
    "sv": Coeffs(
        per_pe={"dsp": 1, "lut": 407.0, "ff": 297.3}, per_lane={"dsp": 3}, fixed={"bram36": 1}
    ),
}
GEMV_COEFFS = {
    "qk": COEFFS["qk"],
    "sv": Coeffs(per_pe={"dsp": 1, "lut": 407.0, "ff": 297.3}, per_lane={"dsp": 3}),
}
MASK_COEFFS = Coeffs(fixed={"lut": 656, "ff": 54})


def matmul_resources(p: AttnMatmulParams) -> dict[str, float]:
    return COEFFS[p.op].scaled(p.rows * p.cols, p.rows)


def gemv_resources(p: AttnGemvParams) -> dict[str, float]:
    return GEMV_COEFFS[p.op].scaled(p.heads_parallel * p.lanes, p.heads_parallel)


def mask_resources(p: MaskParams) -> dict[str, float]:
    return MASK_COEFFS.scaled(0, p.lanes * p.heads_parallel)


register(
    KindSpec(
        "attn_matmul",
        "systolic Q.K^T or softmax.V (prefill)",
        AttnMatmulParams,
        _attention_work,
        matmul_estimate,
        matmul_body,
        matmul_hls,
        matmul_resources,
    )
)
register(
    KindSpec(
        "attn_gemv",
        "decode attention engines",
        AttnGemvParams,
        _attention_work,
        gemv_estimate,
        gemv_body,
        gemv_hls,
        gemv_resources,
    )
)
register(
    KindSpec(
        "mask",
        "causal or padding mask of the scores",
        MaskParams,
        mask_work,
        mask_estimate,
        mask_body,
        mask_hls,
        mask_resources,
    )
)
