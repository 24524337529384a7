"""Collectives across cards: the ring all-reduce and all-gather of tensor parallelism.

A collective kernel sits where a tensor-parallel layer needs whole vectors again (after a
row-split linear: the output projection and FFN2 of Megatron-style TP, Chen 2024 model; after
every column-split operator in DFX, Hong 2022). It reads its card's part of each row from its
input stream, exchanges blocks with its ring neighbours over the inter-card links, and
streams the whole row on; so the exchange overlaps the producer, as the paper's
non-blocking all-reduce does (Chen 2024 model).

Per round of ``devices`` x ``block_words`` words of a row:

- ``all_reduce`` (ring): reduce-scatter in ``devices - 1`` steps (send a block to the next
  card, receive one from the previous card, add it), then all-gather in ``devices - 1``
  steps (send, receive). Each card sends 2 (p - 1) / p of the row.
- ``all_gather`` (ring): the card's own block travels round in ``devices - 1`` steps.
- ``exchange`` (ring): the same traffic as an all-gather, but the kernel passes on only
  its own share once the exchange is done (TeraFly exchanges Q, K and V round its ring,
  TeraFly repo, yet each compute unit goes on with its own heads).

Each step sends before it receives, as a router with send and receive buffers does
(Hong 2022), and waits for its block before the next step (a lock-step ring, like TeraFly's,
TeraFly repo), so every step pays the hop latency. A link buffer shallower than one block
therefore deadlocks the ring, and the engine reports that cycle naming the link. The link
time itself (rate, hops, latency) is the engine's: this body only says what is sent and
received. With one card the kernel
passes rows through.
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
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    RowStream,
    count,
    features,
    lanes,
    param,
    rowwise,
    vector,
)
from spatialsim.kinds.registry import KindSpec, register
from spatialsim.kinds.residual import RESIDUAL_COEFFS

OPS = ("all_reduce", "all_gather", "exchange")
# Words each card sends per ring step, back to back (the router forwards them cut-through,
# so a step pays the hop latency once). A design parameter with an assumed default: one
# step fills the 64-word link FIFO of the default link depth (TeraFly's ring FIFOs are 64
# deep, TeraFly repo).
BLOCK_WORDS = 64


@dataclass(frozen=True)
class CollectiveParams(RowStream, KernelParams):
    KIND = "collective"

    lanes: int = lanes()
    features: int = features()
    op: str = param(
        "the collective: all_reduce (partial sums), all_gather, or exchange (an all-gather "
        "that passes on only this card's share)",
        choices=OPS,
    )
    devices: int = count("cards taking part (the tensor-parallel degree)", 1, 64)
    block_words: int = param(
        "words each card sends per ring step", low=1, high=1 << 20, default=BLOCK_WORDS
    )
    vector: int = vector()

    def __post_init__(self) -> None:
        if (
            self.op != "all_reduce"
            and self.features is not None
            and self.devices is not None
            and self.vector is not None
            and self.features % (self.devices * self.vector)
        ):
            raise UserError(
                f"collective {self.op}: features {self.features} must divide evenly over "
                f"{self.devices} devices in words of {self.vector}"
            )

    @property
    def local_words(self) -> int:
        """Words of a row this card contributes."""
        return self.words if self.op == "all_reduce" else self.words // self.devices

    def ring_word_bits(self) -> int | None:
        return 0  # ring words are as wide as the partial sums it reads

    def stream_words_in(self) -> int | None:
        return self.local_words

    def stream_words_out(self) -> int | None:
        return self.local_words if self.op == "exchange" else self.words

    def rounds(self) -> tuple[int, ...]:
        """Words of the row each round covers: devices x block_words (the last shorter);
        a gather's rounds are whole multiples of ``devices``, one block of the share each."""
        if self.op != "all_reduce":
            full, last = divmod(self.local_words, self.block_words)
            blocks = (self.block_words,) * full + ((last,) if last else ())
            return tuple(b * self.devices for b in blocks)
        per = self.devices * self.block_words
        full, last = divmod(self.words, per)
        return (per,) * full + ((last,) if last else ())

    def steps(self) -> int:
        """Link steps per round."""
        p = self.devices
        return 2 * (p - 1) if self.op == "all_reduce" else p - 1

    def sent_words_per_row(self) -> int:
        """Words this card sends over its outgoing link for one row."""
        return sum(self.steps() * ceil(r / self.devices) for r in self.rounds())


def work(p: CollectiveParams, w: Work) -> KernelWork:
    adds = (p.devices - 1) * p.features // p.devices if p.op == "all_reduce" else 0
    return KernelWork(elements=w.tokens * (p.features + adds))


def estimate(name: str, p: CollectiveParams, w: Work, cost: CostParams) -> Estimate:
    """The kernel alone, links infinitely fast: read its part, add what arrives, write."""
    loops = [Loop("RECV", p.local_words, 1, SIMPLE_DEPTH, w.packs)]
    if p.devices > 1:
        moved = sum(p.steps() * ceil(r / p.devices) for r in p.rounds())
        loops.append(Loop("RING", moved, 1, SIMPLE_DEPTH, w.packs))
    loops.append(Loop("SEND", p.stream_words_out() or 0, 1, SIMPLE_DEPTH, w.packs))
    return make_estimate(name, p.KIND, loops, 0.0, cost)


def body(k: KernelProcess) -> Proc:
    p: CollectiveParams = k.p
    local_in = [f for f in k.ins.values() if f.link is None]
    ring_in = [f for f in k.ins.values() if f.link is not None]
    ring_out = [f for f in k.outs if f.link is not None]
    local_out = [f for f in k.outs if f.link is None]
    if p.devices == 1 or not ring_in or not ring_out:
        if p.devices > 1:
            raise RuntimeError(f"collective {k.name} of {p.devices} cards has no ring links")
        for _ in k.step.pack_sizes():
            yield from rowwise(k, p.local_words, p.stream_words_out() or 0)
        return
    (src,) = local_in
    (rin,) = ring_in
    (rout,) = ring_out
    reduce_steps = p.devices - 1 if p.op == "all_reduce" else 0
    for _ in k.step.pack_sizes():
        for r in p.rounds():
            block = ceil(r / p.devices)
            own = r if p.op == "all_reduce" else block
            yield from k.take(src, own, own, 1.0)
            yield from ring_exchange(k, rin, rout, block, block, p.steps(), reduce_steps)
            out = block if p.op == "exchange" else r
            yield from k.emit(out, local_out, span=out)


def ring_exchange(
    k: KernelProcess, rin: Any, rout: Any, words: int, block: int, steps: int, reduce_steps: int
) -> Proc:
    """Move ``words`` round the ring in blocks of ``block``: each block takes ``steps``
    steps of sending it to the next card and receiving one from the previous card; in the
    first ``reduce_steps`` steps what arrives is added (II 1)."""
    left = words
    while left > 0:
        b = min(block, left)
        left -= b
        for s in range(steps):
            yield from k.send(rout, b)
            if s < reduce_steps:
                yield from k.take(rin, b, b, 1.0)
            else:
                yield from k.get(rin, b)


def hls(p: CollectiveParams) -> dict[str, Any]:
    return {"F": p.features, "OP": p.op, "DEVICES": p.devices, "BLOCK": p.block_words}


def resources(p: CollectiveParams) -> dict[str, float]:
    """The reduction is an fp32 add per token lane, as in the residual kernel (W4A8
    Res_layer report); the link's transceiver IP belongs to the platform, not counted."""
    return RESIDUAL_COEFFS.scaled(0, p.lanes * p.vector)


SPEC = register(
    KindSpec("collective", __doc__ or "", CollectiveParams, work, estimate, body, hls, resources)
)
