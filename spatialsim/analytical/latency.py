"""The paper's latency model: prefill (Eq. 8), decode (Eq. 9) and multi-FPGA (Eqs. 13, 14).

Chen et al. 2024 §3. After the K/V synchronisation point the layer streams as a pipeline,
so a layer costs the K/V term plus the slowest stage; the model iterates N / C times.

    T = (1/freq) * (N / (p2*C)) * ( sync/p1 + p2*C * max(stage_i/p1, T_mem/p1, T_comm) )

With p1 = p2 = 1 and T_comm = 0 this is Eq. 8 (prefill) or Eq. 9 (decode). The paper writes
the max over l*d^2/M_k, l^2*d/M_a1 and l*d*d_FFN/M_f1; here every matrix kernel of the design
has its own term (q/k/v, Q.K^T, softmax.V, output projection, FFN1, FFN2), which reduces to
the paper's form whenever, as in its designs, M_q = M_k = M_v = M_p, M_a1 = M_a2 and
M_f1 = M_f2. T_mem is the time the busiest memory channel needs to stream the weights and,
in decode, the layer's K/V cache (see :func:`channel_bytes`); with tensor parallelism each
device streams 1/p1 of them.

LLaMA-family layers (chen2024-llama templates) extend the terms: the FFN1 stage is the
slower of the gate and up projections, which run side by side on the same input, and the
K/V projections and cache bytes are kv_heads x head_dim wide.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from spatialsim.costmodel.work import decode_work, prefill_work
from spatialsim.design.graph import Design
from spatialsim.design.kernels import PORT_RE, macs_per_cycle
from spatialsim.errors import UserError
from spatialsim.hardware.platform import Platform
from spatialsim.kinds import kind
from spatialsim.kinds.base import KernelWork

MATMUL_KERNELS = (
    "q_proj",
    "k_proj",
    "v_proj",
    "qk_matmul",
    "sv_matmul",
    "out_proj",
    "ffn1",
    "ffn2",
)
# A SwiGLU layer with separate gate and up linears (chen2024-llama templates) adds the gate,
# which runs beside ffn1 (the up projection) on the same input.
GATE_KERNEL = "ffn_gate"
WEIGHT_KERNELS = ("q_proj", "k_proj", "v_proj", "out_proj", "ffn1", "ffn2", GATE_KERNEL)
STAGES = ("qkv", "qk_matmul", "sv_matmul", "out_proj", "ffn1", "ffn2", "mem", "comm")


@dataclass(frozen=True)
class Parallelism:
    """Multi-FPGA split (Eqs. 13, 14): p1-way tensor, p2-way pipeline parallelism."""

    tp: int = 1
    pp: int = 1
    link_gbps: float = 100.0
    link_efficiency: float = 1.0

    def __post_init__(self) -> None:
        for name in ("tp", "pp"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UserError(f"--{name} must be a positive integer, got {v!r}")
        if not self.link_gbps > 0:
            raise UserError(f"link_gbps must be positive, got {self.link_gbps}", field="link_gbps")
        if not 0 < self.link_efficiency <= 1:
            raise UserError(
                f"link_efficiency must be in (0, 1], got {self.link_efficiency}",
                field="link_efficiency",
            )

    @property
    def devices(self) -> int:
        return self.tp * self.pp


def kernel_work(design: Design, phase: str, kernel: str, tokens: int) -> KernelWork:
    """What one kernel does in one layer, from its kind's work (the paper's Table 1 from
    the design's sizes): prefill of ``tokens`` tokens, or one decode step at context
    ``tokens``."""
    a = design.graph(phase).nodes[kernel]
    pack = design.tokens_per_pack(phase)
    step = prefill_work(tokens, pack) if phase == "prefill" else decode_work(tokens, pack)
    spec = kind(a["kind"])
    work: KernelWork = spec.work(spec.of(kernel, a), step)
    return work


def kernel_macs(design: Design, phase: str, kernel: str, tokens: int) -> int:
    """MACs of one matrix kernel in one layer."""
    return kernel_work(design, phase, kernel, tokens).macs


def matmul_rates(design: Design, phase: str) -> dict[str, int]:
    """M_i: MACs per cycle of every matrix kernel in ``phase``."""
    g, p = design.graph(phase), design.tokens_per_pack(phase)
    missing = [k for k in MATMUL_KERNELS if k not in g]
    if missing:
        raise UserError(
            f"design {design.name}: phase {phase} lacks kernel(s) "
            f"{', '.join(missing)} that the analytical model needs"
        )
    return {k: macs_per_cycle(g.nodes[k], p) for k in (*MATMUL_KERNELS, GATE_KERNEL) if k in g}


def channel_bytes(design: Design, phase: str, tokens: int) -> dict[str, float]:
    """Bytes each memory channel moves per layer (ports split a kernel's share): the
    weights, and the K/V cache of writers that keep one off chip (a decode step reads the
    layer's cached rows, kv_heads x head_dim per token and tensor, and writes the new one)."""
    g = design.graph(phase)
    per_channel: dict[str, float] = defaultdict(float)
    for k, a in g.nodes(data=True):
        if a["kind"] != "kv_writer" or a.get("cache", "hbm") != "hbm" or not a.get("ports"):
            continue
        cache = kernel_work(design, phase, k, tokens).elements * a["act_bits"] / 8
        for port in a["ports"]:
            per_channel[port] += cache / len(a["ports"])
    for k in WEIGHT_KERNELS:
        if k not in g:
            continue
        a = g.nodes[k]
        if "ports" not in a:
            continue
        # a systolic linear re-reads its matrix once per pack; a GEMV once per token
        total = kernel_work(design, phase, k, tokens).weight_bytes
        for port in a["ports"]:
            per_channel[port] += total / len(a["ports"])
    return dict(per_channel)


def memory_cycles(
    design: Design, platform: Platform, phase: str, tokens: int, clock_mhz: float, tp: int = 1
) -> tuple[float, str | None]:
    """T_mem in cycles: the busiest channel's bytes over its measured read bandwidth.

    Returns the cycles and the channel that sets them.
    """
    worst, where = 0.0, None
    for port, nbytes in channel_bytes(design, phase, tokens).items():
        m = PORT_RE.match(port)
        assert m is not None
        bw = platform.channel_read_bw_gbps(m.group(1)) * 1e9
        cycles = nbytes / tp / bw * clock_mhz * 1e6
        if cycles > worst:
            worst, where = cycles, port
    return worst, where


@dataclass(frozen=True)
class PhaseEstimate:
    """One phase's latency and the terms of its equation, in cycles per layer step."""

    phase: str
    tokens: int
    sync_cycles: float
    stages: dict[str, float]
    bound: str
    layer_cycles: float
    total_cycles: float
    seconds: float
    rates: dict[str, int] = field(default_factory=dict)
    mem_channel: str | None = None
    head_cycles: float = 0.0  # the model's head, once per step (design.head)

    def to_json(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "sync_cycles": self.sync_cycles,
            "stages": self.stages,
            "bound": self.bound,
            "total_cycles": self.total_cycles,
            "ms": self.seconds * 1e3,
            "macs_per_cycle": self.rates,
            "mem_channel": self.mem_channel,
            "head_cycles": self.head_cycles,
        }


def comm_cycles(
    design: Design, phase: str, tokens: int, par: Parallelism, clock_mhz: float
) -> float:
    """T_comm in cycles: an l x d activation (b_A bits) over the link, when devices > 1."""
    if par.devices == 1:
        return 0.0
    rows = tokens if phase == "prefill" else 1
    act_bits = int(design.graph(phase).nodes["q_proj"]["act_bits"])
    seconds = rows * design.model.hidden * act_bits / (par.link_efficiency * par.link_gbps * 1e9)
    return float(seconds * clock_mhz * 1e6)


def estimate_phase(
    design: Design,
    platform: Platform,
    phase: str,
    tokens: int,
    clock_mhz: float | None = None,
    par: Parallelism | None = None,
) -> PhaseEstimate:
    """Eq. 8 (prefill, ``tokens`` = l) or Eq. 9 (decode, ``tokens`` = context l), with the
    multi-FPGA form of Eqs. 13/14 when ``par`` splits the model."""
    par = par or Parallelism()
    freq = clock_mhz if clock_mhz is not None else design.clock_mhz
    rates = matmul_rates(design, phase)
    cyc = {k: kernel_macs(design, phase, k, tokens) / rates[k] for k in rates}
    p1, p2, c = par.tp, par.pp, design.resident_layers
    mem, channel = memory_cycles(design, platform, phase, tokens, freq, p1)
    stages = {
        "qkv": max(cyc["q_proj"], cyc["k_proj"], cyc["v_proj"]) / p1,
        "qk_matmul": cyc["qk_matmul"] / p1,
        "sv_matmul": cyc["sv_matmul"] / p1,
        "out_proj": cyc["out_proj"] / p1,
        "ffn1": max(cyc["ffn1"], cyc.get(GATE_KERNEL, 0.0)) / p1,
        "ffn2": cyc["ffn2"] / p1,
        "mem": mem,
        "comm": comm_cycles(design, phase, tokens, par, freq),
    }
    # The synchronisation point: attention starts when the buffers it is handed whole are
    # complete, the K and V writers' and the Q buffer's (kinds/buffers.py). Chen 2024's
    # Eq. 8 names the K/V projection, which for multi-head attention takes as long as Q's;
    # with grouped-query attention K and V are narrower and Q's projection is the wait.
    sync = max(cyc["q_proj"], cyc["k_proj"], cyc["v_proj"]) / p1
    bound = max(STAGES, key=lambda s: stages[s])  # first of equals wins: compute over mem
    layers = design.model.layers
    iterations = layers / (p2 * c)
    layer_cycles = sync + p2 * c * stages[bound]
    head = head_cycles(design, platform, phase, freq)
    total = iterations * layer_cycles + head
    return PhaseEstimate(
        phase=phase,
        tokens=tokens,
        sync_cycles=sync,
        stages=stages,
        bound=bound,
        layer_cycles=layer_cycles,
        total_cycles=total,
        seconds=total / (freq * 1e6),
        rates=rates,
        mem_channel=channel,
        head_cycles=head,
    )


def head_cycles(design: Design, platform: Platform, phase: str, clock_mhz: float) -> float:
    """The model's head, once per step on one token: its matrix kernels' slower term,
    MACs over their rate or weight bytes over their channels' read bandwidth (Eq. 9's
    terms for one stage); 0 without a head."""
    g = design.graph(phase)
    worst = 0.0
    for k in design.head:
        a = g.nodes[k]
        if a["kind"] not in ("linear", "gemv"):
            continue
        spec = kind(a["kind"])
        work = spec.work(spec.of(k, a), decode_work(0, 1))
        compute = work.macs / macs_per_cycle(a, 1)
        bw = 0.0
        for port in a["ports"]:
            m = PORT_RE.match(port)
            assert m is not None
            bw += platform.channel_read_bw_gbps(m.group(1)) * 1e9
        memory = work.weight_bytes / bw * clock_mhz * 1e6
        worst = max(worst, compute, memory)
    return worst
