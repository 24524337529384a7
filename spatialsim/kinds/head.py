"""The model's head, run once per step after the last layer: the argmax over the
vocabulary's logits (greedy decoding: the next token's id) and the embedding gather that
turns that id into the next step's input row.

``argmax`` reads the LM head's fp32 logits, one compare per word (II 1), and writes one
word, the winning id. ``embedding`` takes an id and reads that token's row of the
embedding table from its HBM ports (``table_bits`` per element), writing it as the next
input. When the config ties the embeddings to the LM head (``tied``), the table is the LM
head's weight matrix: the gather reads the LM head's channels and the table takes no HBM
of its own (design/footprint.py). Both are assumptions of the chen2024-llama templates:
Chen 2024 leaves the head to the host.
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
    axi_group,
    bits,
    count,
    features,
    lanes,
    param,
    port_bits,
    ports,
    vector,
    words,
)
from spatialsim.kinds.registry import KindSpec, register

# compare, select the index, register: an assumption (no report of an argmax kernel)
ARGMAX_DEPTH = 3.0


@dataclass(frozen=True)
class ArgmaxParams(KernelParams):
    KIND = "argmax"

    lanes: int = lanes()
    features: int = features()
    vector: int = vector()

    def stream_words_in(self) -> int | None:
        return words(self.features, self.vector)

    def stream_words_out(self) -> int | None:
        return 1  # the winning id


def argmax_work(p: ArgmaxParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * p.features)


def argmax_estimate(name: str, p: ArgmaxParams, w: Work, cost: CostParams) -> Estimate:
    loops = [Loop("MAX", words(p.features, p.vector), 1, ARGMAX_DEPTH, w.packs)]
    return make_estimate(name, p.KIND, loops, 0.0, cost)


def argmax_body(k: KernelProcess) -> Proc:
    p: ArgmaxParams = k.p
    inp = k.stream_in()
    for _ in k.step.pack_sizes():
        yield from k.consume(inp, words(p.features, p.vector), 1.0)
        k.busy(ARGMAX_DEPTH - 1)
        yield from k.emit(1)


def argmax_hls(p: ArgmaxParams) -> dict[str, Any]:
    return {"F": p.features}


ARGMAX_COEFFS = Coeffs(per_lane={"lut": 300, "ff": 200})  # an assumption: a comparator


def argmax_resources(p: ArgmaxParams) -> dict[str, float]:
    return ARGMAX_COEFFS.scaled(0, p.lanes * p.vector)


@dataclass(frozen=True)
class EmbeddingParams(KernelParams):
    KIND = "embedding"

    lanes: int = lanes()
    features: int = features()
    vocab: int = count("rows of the embedding table")
    table_bits: int = bits("bit width of a table element")
    tied: bool = param("the table is the LM head's weight matrix (tie_word_embeddings)")
    ports: tuple[str, ...] = ports("memory port(s) holding the table")
    port_bits: int = port_bits()
    vector: int = vector()
    axi_group: str = axi_group()

    def stream_words_in(self) -> int | None:
        return 1  # a token id

    def stream_words_out(self) -> int | None:
        return words(self.features, self.vector)

    @property
    def row_bytes(self) -> float:
        return self.features * self.table_bits / 8


def embedding_work(p: EmbeddingParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * p.features)


def embedding_estimate(name: str, p: EmbeddingParams, w: Work, cost: CostParams) -> Estimate:
    beats = ceil(p.row_bytes * 8 / p.port_bits)
    loops = [
        Loop("GATHER", beats, 1, SIMPLE_DEPTH, w.tokens),
        Loop("OUT", words(p.features, p.vector), 1, SIMPLE_DEPTH, w.packs),
    ]
    return make_estimate(name, p.KIND, loops, 0.0, cost, cost.axi_call_cycles)


def embedding_body(k: KernelProcess) -> Proc:
    """Per token: take the id, read its row from the table, write it out (dequantised)."""
    p: EmbeddingParams = k.p
    inp = k.stream_in()
    fw = words(p.features, p.vector)
    for ntok in k.step.pack_sizes():
        yield from k.get(inp, 1)
        rows = k.open(ntok * p.row_bytes)
        ready = yield from k.request(rows, ntok * p.row_bytes)
        k.wait_memory(ready)
        yield from k.produce(fw, 1.0)


def embedding_hls(p: EmbeddingParams) -> dict[str, Any]:
    return {"F": p.features, "TABLE_BITS": p.table_bits, "TIED": p.tied}


EMBEDDING_COEFFS = Coeffs(fixed={"lut": 482, "ff": 156})  # as the K/V writers' logic


def embedding_resources(p: EmbeddingParams) -> dict[str, float]:
    return EMBEDDING_COEFFS.scaled(0, 0)


register(
    KindSpec(
        "argmax",
        "the winning id over the vocabulary's logits (greedy decoding)",
        ArgmaxParams,
        argmax_work,
        argmax_estimate,
        argmax_body,
        argmax_hls,
        argmax_resources,
    )
)
register(
    KindSpec(
        "embedding",
        "a token's row of the embedding table, read from HBM (tied: the LM head's matrix)",
        EmbeddingParams,
        embedding_work,
        embedding_estimate,
        embedding_body,
        embedding_hls,
        embedding_resources,
    )
)
