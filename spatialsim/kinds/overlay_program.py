"""The compiler of a temporal overlay: a decoder layer as one instruction stream.

A temporal overlay (DFX, Hong 2022) runs a layer instruction by instruction on shared units:
DMA engines (weights and KV cache from HBM), a matrix unit (MPU), its special functions
(SFU: mask and scale, reduce-max, GELU), a vector unit (VPU: LayerNorm and softmax as
sequences of vector operations, residual adds) and a router (all-gathers around the ring
of cards). :func:`compile_layer` turns the model's operators for one step (a prefill of
``tokens`` tokens, or one decode step at a context) into that stream for one card of
``devices``: each instruction names its unit, its cost (cycles, or bytes for DMA and the
router) and the earlier instructions it depends on.

Dependencies become *tokens*: an instruction that a later one on another unit depends on
sends that unit one token when it completes; the dependent instruction first takes the
tokens up to the latest instruction it needs (units complete in program order, so a
count is enough). That is the scoreboard: independent DMA, compute and router
instructions overlap, dependent ones wait. How far a producer may run ahead is the depth
of its token FIFO (the weight buffers between DMA and MPU).

Costs (per card of ``devices``; heads split across cards, fully connected layers by
output columns, Hong 2022):

- ``Conv1D`` of an input of ``n`` rows of K onto N columns: the matrix unit takes one
  64-wide slice of one row per lane per cycle, 16 lanes of output columns side by side,
  so n x ceil(K / width) x ceil(N / lanes) cycles, plus the pipeline: a multiply and
  log2(width) adder levels and the accumulation (Hong 2022: multiply 6, add 11 cycles). Its
  weights (K x N fp16) arrive from HBM in chunks of ``weight_chunk_kb``, one DMA
  instruction per chunk, each chunk's compute an MPU instruction.
- ``MaskedMM`` (Q.K^T) and ``MM`` (S.V) likewise per head, their K or V read from the KV
  cache in HBM.
- vector sequences: ``passes`` x n x ceil(cols / width) cycles plus each operation's
  latency; LayerNorm is 7 passes (mean, subtract, square, variance, normalise, scale,
  shift), softmax 4 (reduce-max on the SFU; subtract-and-exp, accumulate, multiply by the
  reciprocal on the VPU).
- all-gathers: the card's share of a row (n x cols / devices fp16 values) goes round the
  ring in devices - 1 steps.

Every instruction also pays ``issue_cycles`` on its unit (not published for DFX: a
documented, calibratable parameter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from math import ceil, log2

UNITS = ("dma", "mpu", "sfu", "vpu", "router")


@dataclass(frozen=True)
class Shape:
    """What the compiler needs of the model, the card and the overlay's units."""

    hidden: int
    heads: int
    head_dim: int
    ffn: int
    devices: int
    mpu_lanes: int
    mpu_width: int
    vpu_width: int
    mul_cycles: float
    add_cycles: float
    sfu_cycles: float
    issue_cycles: float
    weight_chunk_bytes: int
    elem_bytes: int
    router_bits: int


@dataclass(frozen=True)
class Instr:
    """One instruction: its unit, opcode and cost, what it waits for and whom it tells."""

    unit: str
    op: str
    cycles: float = 0.0  # compute units: busy cycles including the issue
    nbytes: float = 0.0  # dma: bytes moved; router: bytes of the card's share
    write: bool = False  # dma: a store
    extent: float = 0.0  # dma: bytes of the sequential stream this transfer is part of
    takes: tuple[tuple[str, int], ...] = ()  # (producer unit, tokens to take first)
    notify: tuple[str, ...] = ()  # units to send one token when done


@dataclass
class _Builder:
    s: Shape
    ops: list[tuple[str, str, float, float, bool, float, tuple[int, ...]]] = field(
        default_factory=list
    )

    def add(
        self,
        unit: str,
        op: str,
        deps: Iterable[int],
        cycles: float = 0.0,
        nbytes: float = 0.0,
        write: bool = False,
        extent: float = 0.0,
    ) -> int:
        deps_t = tuple(d for d in deps if d >= 0)
        self.ops.append((unit, op, cycles, nbytes, write, extent or nbytes, deps_t))
        return len(self.ops) - 1

    # -- operators --------------------------------------------------------------------
    def conv1d(self, name: str, n: int, k: int, cols: int, after: int) -> int:
        """x (n x k) . W (k x cols) on this card: weights streamed in chunks, one DMA and
        one MPU instruction per chunk; the chunks follow each other through the matrix
        unit's pipeline, so its depth is paid once, by the last."""
        s = self.s
        depth = s.mul_cycles + log2(s.mpu_width) * s.add_cycles + s.add_cycles
        per_col_group = n * ceil(k / s.mpu_width)
        col_bytes = k * s.elem_bytes
        lanes = s.mpu_lanes
        cols_per_chunk = max(lanes, s.weight_chunk_bytes // col_bytes // lanes * lanes)
        last = after
        left = cols
        while left > 0:
            c = min(left, cols_per_chunk)
            left -= c
            load = self.add(
                "dma", f"LOAD_W {name}", (), nbytes=c * col_bytes, extent=cols * col_bytes
            )
            cyc = per_col_group * ceil(c / lanes) + s.issue_cycles + (0 if left else depth)
            last = self.add("mpu", f"CONV1D {name}", (load, after, last), cycles=cyc)
        return last

    def vector(
        self,
        unit: str,
        name: str,
        passes: int,
        n: int,
        cols: int,
        latency: float,
        after: Iterable[int],
    ) -> int:
        s = self.s
        cyc = passes * n * ceil(cols / s.vpu_width) + latency + s.issue_cycles
        return self.add(unit, name, after, cycles=cyc)

    def gather(self, name: str, n: int, cols: int, after: int) -> int:
        """All-gather a row split over the cards (no-op on one card)."""
        s = self.s
        if s.devices == 1:
            return after
        share = n * cols // s.devices * s.elem_bytes
        return self.add("router", f"ALLGATHER {name}", (after,), nbytes=share)

    def layernorm(self, name: str, n: int, after: Iterable[int]) -> int:
        s = self.s
        lat = 4 * s.add_cycles + 3 * s.mul_cycles + s.sfu_cycles  # the chained reductions
        return self.vector("vpu", f"LAYERNORM {name}", 7, n, s.hidden, lat, after)


def _schedule(b: _Builder) -> tuple[Instr, ...]:
    """Turn explicit dependencies into token counts (see the module docstring)."""
    ops = b.ops
    consumers: dict[int, set[str]] = {}
    for unit, *_rest, deps in ops:
        for d in deps:
            if ops[d][0] != unit:
                consumers.setdefault(d, set()).add(unit)
    rank: dict[tuple[int, str], int] = {}  # (producer op, consumer unit) -> 1-based rank
    counters: dict[tuple[str, str], int] = {}
    for i in range(len(ops)):
        for c in sorted(consumers.get(i, ())):
            key = (ops[i][0], c)
            counters[key] = counters.get(key, 0) + 1
            rank[(i, c)] = counters[key]
    taken: dict[tuple[str, str], int] = {}
    out = []
    for i, (unit, op, cycles, nbytes, write, extent, deps) in enumerate(ops):
        need: dict[str, int] = {}
        for d in deps:
            pu = ops[d][0]
            if pu != unit:
                need[pu] = max(need.get(pu, 0), rank[(d, unit)])
        takes = []
        for pu, n in sorted(need.items()):
            have = taken.get((pu, unit), 0)
            if n > have:
                takes.append((pu, n - have))
                taken[(pu, unit)] = n
        notify = tuple(sorted(consumers.get(i, ())))
        out.append(Instr(unit, op, cycles, nbytes, write, extent, tuple(takes), notify))
    return tuple(out)


@lru_cache(maxsize=256)
def compile_layer(s: Shape, tokens: int, keys: int, cached: int) -> tuple[Instr, ...]:
    """The instruction stream of one layer on one card: ``tokens`` new tokens whose
    attention spans ``keys`` keys, ``cached`` of them already in the KV cache."""
    b = _Builder(s)
    n, d, p = tokens, s.hidden, s.devices
    heads = s.heads // p
    dh = d // p  # this card's share of the attention width
    f = s.ffn // p
    eb = s.elem_bytes
    x = b.add("dma", "LOAD_X", (), nbytes=n * d * eb)
    ln1 = b.layernorm("ln1", n, (x,))
    # V first, then Q and K (Hong 2022); V and K go to the KV cache in HBM
    v = b.conv1d("v", n, d, dh, ln1)
    q = b.conv1d("q", n, d, dh, v)
    kk = b.conv1d("k", n, d, dh, q)
    st_k = b.add("dma", "STORE_K", (kk,), nbytes=n * dh * eb, write=True)
    st_v = b.add("dma", "STORE_V", (v,), nbytes=n * dh * eb, write=True)
    head_out = kk
    depth = s.mul_cycles + log2(s.mpu_width) * s.add_cycles
    for h in range(heads):
        ld_k = b.add("dma", f"LOAD_K h{h}", (st_k,), nbytes=cached * s.head_dim * eb)
        ld_v = b.add("dma", f"LOAD_V h{h}", (st_v,), nbytes=cached * s.head_dim * eb)
        qk_cyc = n * ceil(s.head_dim / s.mpu_width) * ceil(keys / s.mpu_lanes) + depth
        qk = b.add("mpu", f"MASKEDMM h{h}", (ld_k, q, head_out), cycles=qk_cyc + s.issue_cycles)
        mx = b.vector("sfu", f"REDUCEMAX h{h}", 1, n, keys, s.sfu_cycles, (qk,))
        sm_lat = 2 * s.add_cycles + s.mul_cycles + s.sfu_cycles
        sm = b.vector("vpu", f"SOFTMAX h{h}", 3, n, keys, sm_lat, (mx,))
        sv_cyc = n * ceil(keys / s.mpu_width) * ceil(s.head_dim / s.mpu_lanes) + depth
        head_out = b.add("mpu", f"MM h{h}", (ld_v, sm), cycles=sv_cyc + s.issue_cycles)
    att = b.gather("attention", n, d, head_out)
    proj = b.conv1d("proj", n, d, dh, att)
    proj_all = b.gather("proj", n, d, proj)
    res1 = b.vector("vpu", "ADD residual1", 1, n, d, s.add_cycles, (proj_all, x))
    ln2 = b.layernorm("ln2", n, (res1,))
    fc1 = b.conv1d("fc1", n, d, f, ln2)
    gelu = b.vector("sfu", "GELU", 1, n, f, s.sfu_cycles, (fc1,))
    fc1_all = b.gather("fc1", n, s.ffn, gelu)
    fc2 = b.conv1d("fc2", n, s.ffn, dh, fc1_all)
    fc2_all = b.gather("fc2", n, d, fc2)
    res2 = b.vector("vpu", "ADD residual2", 1, n, d, s.add_cycles, (fc2_all, res1))
    b.add("dma", "STORE_X", (res2,), nbytes=n * d * eb, write=True)
    return _schedule(b)
