"""What is known about every calibratable parameter before any measurement of yours: a prior.

Each prior is a normal distribution either on the parameter itself (``linear``) or on its
logarithm (``log``: a positive quantity known to within a factor). ``center`` is the mean
(linear) or the median (log); ``spread`` the standard deviation of the parameter (linear)
or of its logarithm (log: 0.1 is about +-10 %, 0.7 about a factor of 2). Each names its
source. A fit moves a parameter as far as the data pull it against its prior; a parameter
no measurement depends on stays at its prior, with the prior's width as its uncertainty.

Where a published number exists the prior is centred on it and is as narrow as the spread
of the published numbers; where the cost model's constant was read from the W4A8 HLS
report, the prior is centred on it and allows other builds to differ by about a factor of
1.6 (the three chen2024 builds' GeLU depths differ by 4x, their softmax rows by 10 %);
where nothing is published (host costs), the prior is weakly informative and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from spatialsim.constants import Z95


@dataclass(frozen=True)
class Prior:
    scale: str  # "log" or "linear"
    center: float
    spread: float
    source: str

    def __post_init__(self) -> None:
        if self.scale not in ("log", "linear"):
            raise ValueError(f"prior scale {self.scale!r}")
        if self.spread <= 0 or (self.scale == "log" and self.center <= 0):
            raise ValueError("a prior needs a positive spread (and a positive log median)")

    @property
    def mu(self) -> float:
        """The mean in the fitted (unconstrained) coordinate."""
        return math.log(self.center) if self.scale == "log" else self.center

    def to_u(self, x: float) -> float:
        return math.log(max(x, 1e-300)) if self.scale == "log" else x

    def from_u(self, u: float) -> float:
        return math.exp(u) if self.scale == "log" else u

    def dx_du(self, u: float) -> float:
        """d(parameter)/d(coordinate) at ``u`` (to carry covariances to the parameter)."""
        return math.exp(u) if self.scale == "log" else 1.0

    def interval95(self) -> tuple[float, float]:
        return (
            self.from_u(self.mu - Z95 * self.spread),
            self.from_u(self.mu + Z95 * self.spread),
        )

    def describe(self) -> str:
        if self.scale == "log":
            return f"lognormal(median {self.center:g}, sigma_log {self.spread:g})"
        return f"normal(mean {self.center:g}, sd {self.spread:g})"

    def density(self, x: float) -> float:
        """Probability density at parameter value ``x`` (for the prior/posterior plots)."""
        if self.scale == "log":
            if x <= 0:
                return 0.0
            z = (math.log(x) - self.mu) / self.spread
            return math.exp(-0.5 * z * z) / (x * self.spread * math.sqrt(2 * math.pi))
        z = (x - self.center) / self.spread
        return math.exp(-0.5 * z * z) / (self.spread * math.sqrt(2 * math.pi))


REPORT = "fitted to the W4A8 HLS report (Chen 2024 W4A8); other builds may differ ~1.6x"

PRIORS: dict[str, Prior] = {
    "design.block_overhead_cycles": Prior(
        "linear", 6.0, 2.0, "Chen 2024 prefill: one output block costs about K + 6...9 cycles"
    ),
    "design.reduction_ii": Prior(
        "log", 4.0, 0.25, "Chen 2024 attention: fp32 reductions reach II = 4 at the 3.33 ns target"
    ),
    "design.act_depth_cycles": Prior(
        "log",
        90.0,
        0.8,
        "Chen 2024 W8A8 and 4: GeLU depths 38, 73 and 168 in the three builds",
    ),
    "cost.array_prologue_cycles": Prior("log", 27.0, 0.5, REPORT),
    "cost.array_prologue_divisor": Prior("log", 16.0, 0.5, REPORT),
    "cost.softmax_exp_depth_cycles": Prior("log", 49.0, 0.5, REPORT),
    "cost.softmax_out_depth_cycles": Prior(
        "log", 5.0, 0.5, "Chen 2024 W8A8: the W8A8 softmax rows (l/2 + 4 per row)"
    ),
    "cost.layernorm_norm_depth_cycles": Prior("log", 153.0, 0.5, REPORT),
    "cost.row_store_cycles_per_word": Prior("log", 0.5, 0.5, REPORT),
    "cost.row_store_overhead_cycles": Prior("log", 11.0, 0.5, REPORT),
    "cost.axi_call_cycles": Prior("log", 58.0, 0.5, REPORT),
    "cost.dataflow_overhead_cycles": Prior("log", 56.0, 0.5, REPORT),
    "cost.call_overhead_cycles": Prior(
        "log", 2.0, 0.5, "Chen 2024 W4A8: a function adds about 2 cycles around its loop"
    ),
    "cost.gemv_pass_overhead_cycles": Prior(
        "log",
        6.0,
        0.5,
        "Chen 2024 W8A8: W8A8 decode GEMVs take about 6 cycles per pass beyond K",
    ),
    "cost.attn_gemv_overhead_cycles": Prior(
        "log", 16.0, 0.7, "an assumption (no decode attention report): a factor of 2"
    ),
    "hbm.read_bw_gbps": Prior(
        "log",
        13.2,
        0.1,
        "Chen 2024 U280: one pseudo-channel reads 13.27 (Shuhai) and 13.2 GB/s (Lu et al.); "
        "10 % for designs that reach it less well",
    ),
    "hbm.write_bw_gbps": Prior("log", 13.2, 0.1, "Chen 2024 U280: as reads (421.8 GB/s / 32)"),
    "hbm.latency_ns": Prior(
        "linear", 106.7, 15.0, "Chen 2024 U280: page hit 107 ns, closed 122, miss 138 (Shuhai)"
    ),
    "hbm.switch_penalty_ns": Prior(
        "log", 15.6, 0.5, "Chen 2024 U280: the switch adds 7 cycles at 450 MHz (Shuhai)"
    ),
    "hbm.small_burst_bw_gbps": Prior(
        "log", 6.7, 0.3, "Chen 2024 U280: 32-byte bursts 6.7 GB/s in an 8 KB window (Shuhai)"
    ),
    "ddr.read_bw_gbps": Prior("log", 17.9, 0.1, "Chen 2024 U280: 17.9 GB/s (Lu et al.)"),
    "ddr.write_bw_gbps": Prior("log", 16.1, 0.1, "Chen 2024 U280: 16.1 GB/s (Lu et al.)"),
    "cost.launch_overhead_us": Prior(
        "log",
        10.0,
        1.5,
        "weakly informative: nothing published for these hosts; an XRT enqueue is tens of "
        "microseconds (95 %: 0.5 to 190 us). The uncalibrated default is 0 (device only)",
    ),
    "cost.wait_overhead_us": Prior(
        "log",
        5.0,
        1.5,
        "weakly informative: a completion wait costs microseconds (95 %: 0.3 to 95 us); "
        "the uncalibrated default is 0",
    ),
    "cost.reconfig_ms": Prior(
        "log",
        200.0,
        1.5,
        "weakly informative: loading an xclbin takes 100s of ms (95 %: 11 ms to 3.8 s); "
        "reported on its own, so TTFT and TPOT do not constrain it",
    ),
    "cost.slr_crossing_cycles": Prior(
        "log", 4.0, 0.5, "UG949: register both ends of an SLL crossing; 2 to 10 cycles"
    ),
    "cost.axi_outstanding_reads": Prior(
        "log", 16.0, 0.7, "UG1399: m_axi num_read_outstanding defaults to 16"
    ),
    "cost.axi_burst_beats": Prior(
        "log", 16.0, 0.7, "UG1399: m_axi max_read_burst_length defaults to 16"
    ),
    "cost.hbm_efficiency": Prior(
        "log",
        0.75,
        0.6,
        "Chen 2024 U280: long sequential bursts reach the channel's rate (1.0); 32-byte bursts "
        "at a 4 KB stride reach 0.51 of it in an 8 KB window and 0.18 over 256 MB. A design's "
        "pattern lies in between: 95 % from 0.23 to 1 (the bound)",
    ),
    "cost.token_overhead_us": Prior(
        "log",
        20.0,
        1.5,
        "weakly informative: per generated token the host reads the logits or token back, "
        "samples and writes the next input over PCIe (95 %: 1 to 380 us); default 0",
    ),
    # The batch-1 GPU model (docs/gpu.md). The GPU sources here are datasheet peaks; no
    # measured batch-1 latency backs these, so they are weakly informative, centred on the
    # documented defaults; GPU runs move them.
    "gpu.bandwidth_efficiency": Prior(
        "log",
        0.7,
        0.3,
        "assumption: a batch-1 GEMV streams its weights at 40 % to 100 % of "
        "the datasheet bandwidth (95 %)",
    ),
    "gpu.compute_efficiency": Prior(
        "log", 0.4, 0.7, "assumption: one prompt's GEMMs reach a tenth to all of the peak (95 %)"
    ),
    "gpu.eager_launch_us": Prior(
        "log",
        10.0,
        0.7,
        "assumption: PyTorch dispatches an operator and launches its kernel "
        "in microseconds (95 %: 2.5 to 40 us)",
    ),
    "gpu.graph_launch_us": Prior(
        "log",
        2.0,
        0.7,
        "assumption: a replayed graph's kernels follow each other within "
        "microseconds (95 %: 0.5 to 8 us)",
    ),
    "gpu.eager_step_us": Prior(
        "log", 100.0, 1.0, "assumption: host work per step in eager PyTorch (95 %: 14 to 710 us)"
    ),
    "gpu.graph_step_us": Prior(
        "log", 20.0, 1.0, "assumption: host work per step with graphs (95 %: 3 to 140 us)"
    ),
    "cost.link_efficiency": Prior(
        "log",
        0.8,
        0.35,
        "weakly informative: the paper's alpha is measured but not given (Chen 2024 model); "
        "a streaming link keeps most of its payload rate after the 64B/66B coding, a design "
        "that sends short transfers with handshakes (DFX's 1,024-bit words, Hong 2022) far "
        "less: 95 % from 0.4 to 1 (the bound)",
    ),
    "cost.link_hop_latency_ns": Prior(
        "log",
        500.0,
        1.0,
        "weakly informative: DFX's hop latency is not published (Hong 2022); 95 %: 70 ns to 3.5 us",
    ),
    "cost.host_relay_us": Prior(
        "log",
        5.0,
        1.5,
        "weakly informative: a DMA completion and a new enqueue (95 %: 0.3 to 95 us)",
    ),
    "design.issue_cycles": Prior(
        "log",
        10.0,
        1.5,
        "weakly informative: DFX's per-instruction issue cost is not published (Hong 2022)",
    ),
    "design.sfu_cycles": Prior(
        "log",
        20.0,
        1.0,
        "weakly informative: DFX's special-function latencies are not published (Hong 2022); "
        "its fp16 add takes 11 cycles and multiply 6",
    ),
}


def prior(name: str) -> Prior:
    return PRIORS[name]


def from_posterior(p: Prior, value: float, sd_u: float, source: str) -> Prior:
    """A posterior carried on as the next fit's prior (sequential calibration: the HBM
    microbenchmarks inform the board fit)."""
    return Prior(p.scale, value, max(sd_u, 1e-9), source)
