"""Units of a temporal overlay (DFX, Hong 2022): DMA, matrix unit, special functions, vector
unit and router, each a kernel that executes its share of one instruction stream.

Every unit of a card carries the same overlay parameters (the model's shape, the card
count and the units' sizes), so each compiles the same stream
(:mod:`spatialsim.kinds.overlay_program`) and runs the instructions that are its own, in
order: it first takes the tokens of the instructions it depends on from the producing
units' token FIFOs (time charged as *starved*), then works (*busy*; the DMA waits on HBM
as *hbm_wait*; the router sends over the links, *blocked* while a link is busy or full,
*starved* while a neighbour's block is on its way), then sends a token to each unit that
depends on it (*blocked* while that token FIFO is full: the scoreboard, or the weight
buffers between DMA and MPU, are full). The units are kernels like any other, so every
report, plot and timeline works for them unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from spatialsim.costmodel.loops import Estimate, Loop, make_estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.kinds.base import (
    Coeffs,
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    count,
    param,
)
from spatialsim.kinds.collective import ring_exchange
from spatialsim.kinds.overlay_program import UNITS, Instr, Shape, compile_layer
from spatialsim.kinds.registry import KindSpec, register


@dataclass(frozen=True)
class OverlayParams(KernelParams):
    KIND = "overlay"

    unit: str = param("which unit of the overlay this kernel is", choices=UNITS)
    hidden: int = count("model width d")
    heads: int = count("attention heads of the model")
    head_dim: int = count("width of one head")
    ffn: int = count("FFN width of the model")
    devices: int = count("cards the overlay runs on (its tensor parallelism)", 1, 64)
    mpu_lanes: int = param(
        "matrix-unit lanes (output columns per cycle)", low=1, high=4096, default=16
    )
    mpu_width: int = param(
        "inputs per lane per cycle (adder-tree width)", low=1, high=4096, default=64
    )
    vpu_width: int = param("vector-unit width (elements per cycle)", low=1, high=4096, default=64)
    mul_cycles: float = param("latency of a multiply, cycles", low=0, high=1000, default=6.0)
    add_cycles: float = param("latency of an add, cycles", low=0, high=1000, default=11.0)
    sfu_cycles: float = param(
        "latency of a special function (exp, reciprocal, square root, table lookup), "
        "cycles; not published for DFX: an assumption",
        low=0,
        high=1e4,
        default=20.0,
    )
    issue_cycles: float = param(
        "cycles an instruction spends being issued on its unit (decode, operand set-up); "
        "not published for DFX: an assumption to calibrate",
        low=0,
        high=1e6,
        default=10.0,
    )
    weight_chunk_kb: int = param(
        "weights per DMA instruction (one on-chip weight buffer), KiB; not published for "
        "DFX: an assumption",
        low=1,
        high=1 << 20,
        default=256,
    )
    elem_bits: int = param("bits per value (DFX: fp16)", choices=(8, 16, 32), default=16)
    router_bits: int = param(
        "bits per router word (DFX: 64 x 16-bit)", low=8, high=8192, default=1024
    )
    block_words: int = param(
        "router words per ring step (the router's send buffer)", low=1, high=1 << 20, default=32
    )
    ports: tuple[str, ...] = param(
        "memory ports, one 'HBM[i]' or 'DDR[i]' per AXI master (the DMA unit's)", default=()
    )
    port_bits: int = param(
        "AXI master data width in bits", choices=(32, 64, 128, 256, 512), default=512
    )

    def shape(self) -> Shape:
        return Shape(
            hidden=self.hidden,
            heads=self.heads,
            head_dim=self.head_dim,
            ffn=self.ffn,
            devices=self.devices,
            mpu_lanes=self.mpu_lanes,
            mpu_width=self.mpu_width,
            vpu_width=self.vpu_width,
            mul_cycles=self.mul_cycles,
            add_cycles=self.add_cycles,
            sfu_cycles=self.sfu_cycles,
            issue_cycles=self.issue_cycles,
            weight_chunk_bytes=self.weight_chunk_kb * 1024,
            elem_bytes=self.elem_bits // 8,
            router_bits=self.router_bits,
        )

    def macs_per_cycle(self, tokens_per_pack: int) -> int:
        return self.mpu_lanes * self.mpu_width if self.unit == "mpu" else 0

    def ring_word_bits(self) -> int | None:
        return self.router_bits if self.unit == "router" else None


def program(p: OverlayParams, w: Work) -> tuple[Instr, ...]:
    return compile_layer(p.shape(), w.tokens, w.keys, w.cached)


def work(p: OverlayParams, w: Work) -> KernelWork:
    if p.unit != "mpu":
        return KernelWork()
    n, d, f = w.tokens, p.hidden, p.ffn
    macs = n * (4 * d * d + 2 * d * f) // p.devices + 2 * n * w.keys * d // p.devices
    return KernelWork(macs=macs, weight_bytes=(4 * d * d + 2 * d * f) / p.devices * p.elem_bits / 8)


def estimate(name: str, p: OverlayParams, w: Work, cost: CostParams) -> Estimate:
    """The unit's own instructions back to back, alone: compute cycles; for the DMA its
    bytes at the AXI ports' rate (all ports at once, before HBM's own limits, which the
    engine applies) and for the router its words at one per cycle per ring step."""
    loops = []
    by_op: dict[str, list[float]] = {}
    port_bytes = max(1, len(p.ports)) * p.port_bits / 8
    for ins in program(p, w):
        if ins.unit != p.unit:
            continue
        if p.unit == "dma":
            cycles = p.issue_cycles + ins.nbytes / port_bytes
        elif p.unit == "router":
            words = ceil(ins.nbytes * 8 / p.router_bits)
            cycles = p.issue_cycles + words * (p.devices - 1)
        else:
            cycles = ins.cycles
        key = ins.op.split()[0]
        acc = by_op.setdefault(key, [0, 0.0])
        acc[0] += 1
        acc[1] += cycles
    for op, (n, cyc) in by_op.items():
        loops.append(Loop(op, max(1, ceil(cyc / n)), 1, 1, int(n)))
    return make_estimate(name, p.KIND, loops, 0.0, cost, call=0.0)


def body(k: KernelProcess) -> Proc:
    p: OverlayParams = k.p
    unit_of = {src: src.rsplit(".", 1)[-1] for src in k.ins}
    token_in = {unit_of[s]: f for s, f in k.ins.items() if f.link is None}
    token_out = {f.dst.rsplit(".", 1)[-1]: f for f in k.outs if f.link is None}
    ring_in = [f for f in k.ins.values() if f.link is not None]
    ring_out = [f for f in k.outs if f.link is not None]
    for ins in program(p, k.step):
        if ins.unit != p.unit:
            continue
        for producer, n in ins.takes:
            yield from k.get(token_in[producer], n)
        if p.unit == "dma":
            k.busy(p.issue_cycles)
            if ins.nbytes:
                stream = k.open(ins.extent, ins.write)
                ready = yield from k.request(stream, ins.nbytes)
                k.wait_memory(ready)
        elif p.unit == "router":
            k.busy(p.issue_cycles)
            words = ceil(ins.nbytes * 8 / p.router_bits)
            (rin,) = ring_in
            (rout,) = ring_out
            yield from ring_exchange(k, rin, rout, words, p.block_words, p.devices - 1, 0)
        else:
            k.busy(ins.cycles)
        for consumer in ins.notify:
            yield from k.emit(1, [token_out[consumer]])


def hls(p: OverlayParams) -> dict[str, Any]:
    return {"UNIT": p.unit}


# Hong 2022 reports only totals: about 39.9 % of the U280's LUTs and 39.2 % of its DSPs. The
# matrix unit's DSPs follow its structure (16 lanes x (64 multipliers + 63 fp16 adds at 2
# DSPs + the accumulator) = 3,072, Hong 2022); the vector unit's 64 lanes an add (2 DSPs),
# a multiply and a square; the rest is an assumed split of the published totals, with the
# DMA's 32 m_axi adapters counted by the design's resource check.
COEFFS = {
    "mpu": Coeffs(per_lane={"dsp": 192, "lut": 7500, "ff": 12000}, fixed={"uram": 16}),
    "vpu": Coeffs(per_lane={"dsp": 4, "lut": 940, "ff": 1500}, fixed={"bram36": 64}),
    "sfu": Coeffs(per_lane={"dsp": 3, "lut": 625, "ff": 900}, fixed={"bram36": 8}),
    "dma": Coeffs(fixed={"lut": 20000, "ff": 30000, "bram36": 32}),
    "router": Coeffs(fixed={"lut": 20000, "ff": 30000, "bram36": 16}),
}


def resources(p: OverlayParams) -> dict[str, float]:
    lanes = {"mpu": p.mpu_lanes, "vpu": p.vpu_width, "sfu": p.vpu_width}.get(p.unit, 0)
    return COEFFS[p.unit].scaled(0, lanes)


SPEC = register(
    KindSpec("overlay", __doc__ or "", OverlayParams, work, estimate, body, hls, resources)
)
