"""Tunable constants of the cost models, with their defaults and where each comes from.

Everything here is a parameter that calibration (``spatialsim calibrate``) may refine; the
defaults are read from the chen2024 W4A8 HLS reports (Chen 2024 W4A8) or from the
platform description. Values are in kernel clock cycles unless the name says otherwise.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from spatialsim.errors import UserError

# Physical range of every constant (low, high, unit): far beyond any real design, so that
# a typo (1e30) is caught, not simulated.
RANGES: dict[str, tuple[float, float, str]] = {
    "call_overhead_cycles": (0, 1e4, "cycles"),
    "axi_call_cycles": (0, 1e5, "cycles"),
    "array_prologue_cycles": (0, 1e5, "cycles"),
    "array_prologue_divisor": (0.01, 1e6, "(K / divisor cycles)"),
    "row_store_cycles_per_word": (0, 64, "cycles per word"),
    "row_store_overhead_cycles": (0, 1e5, "cycles"),
    "softmax_exp_depth_cycles": (0, 1e5, "cycles"),
    "layernorm_norm_depth_cycles": (0, 1e5, "cycles"),
    "softmax_out_depth_cycles": (0, 1e5, "cycles"),
    "gemv_pass_overhead_cycles": (0, 1e5, "cycles"),
    "attn_gemv_overhead_cycles": (0, 1e5, "cycles"),
    "dataflow_overhead_cycles": (0, 1e6, "cycles"),
    "slr_crossing_cycles": (0, 1e4, "cycles"),
    "axi_burst_beats": (1, 256, "beats"),
    "axi_outstanding_reads": (1, 256, "reads"),
    "hbm_efficiency": (0.01, 1, "(share of a channel's sequential rate)"),
    "launch_overhead_us": (0, 1e6, "us"),
    "wait_overhead_us": (0, 1e6, "us"),
    "token_overhead_us": (0, 1e6, "us"),
    "reconfig_ms": (0, 1e6, "ms"),
    "link_efficiency": (0.01, 1, "(share of the payload rate)"),
    "link_hop_latency_ns": (0, 1e7, "ns"),
    "host_relay_us": (0, 1e6, "us"),
}


def check_ranges(obj: object, ranges: dict[str, tuple[float, float, str]], what: str) -> None:
    """Refuse a field of dataclass ``obj`` that is not a finite number in its range."""
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        low, high, unit = ranges[f.name]
        bad = (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not low <= value <= high
        )
        if bad:
            raise UserError(
                f"{what} parameter {f.name} = {value!r} is out of range: a finite number "
                f"in [{low:g}, {high:g}] {unit}"
            )


@dataclass(frozen=True)
class CostParams:
    """Constants of the cost models. Unless marked an assumption, each is read from the
    Vitis HLS report of the chen2024 W4A8 GPT-2-medium layer (Chen 2024 W4A8, module
    latencies per layer at l = 128, d = 1024, 16 packs);
    ``tests/test_costmodel.py::test_every_w4a8_kernel_is_within_two_percent_of_the_hls_report``
    shows every kernel side by side with the report.

    - ``call_overhead_cycles``: a dataflow function's entry and exit (about 2, Chen 2024 W4A8).
    - ``axi_call_cycles``: an m_axi loader or writer's first-access latency: input loaders
      16,459 = 16 x (1,024 + 1) + 59, output writer 16,458.
    - ``array_prologue_cycles`` and ``array_prologue_divisor``: per row, a systolic array
      spends K / divisor + cycles outside its MAC loop. The three linears fit exactly
      (Q/K/V 528,822 = 16 x (32 x (1,024 + 6) + 64 + 27) + 6; FFN1, FFN2 likewise), and the
      attention arrays to 0.5 %. Our loop structure does not explain it, so it is fitted.
    - ``row_store_cycles_per_word`` and ``row_store_overhead_cycles``: the K/V writers,
      Q buffer and residuals take 1.5 cycles per word (K_writer 24,721, Q_buffer 24,737,
      Res_layer 24,849, V_writer 73,873 at II 4); the extra half cycle per word is fitted.
    - ``softmax_exp_depth_cycles``: iteration latency of the exp-and-sum loop (exp, add at
      II 4): softmax 175,617 = 256 rows x (129 + 4 x 127 + 49) + 1.
    - ``layernorm_norm_depth_cycles``: the normalise loop's latency including mean, variance
      and reciprocal square root: LayerNorm 84,317 = 16 x (4,094 + 1,023 + 153) + 5.
    - ``softmax_out_depth_cycles``: iteration latency of the output loop of a softmax that
      buffers its row (``output = "buffered"``): the W8A8 softmax's rows take l/2 + 4
      cycles more than the streamed structure (Chen 2024 W8A8), 256 trips at II 1 plus
      this 5-cycle iteration (read, scale, write).
    - the activation's pipeline depth is a kernel parameter (``act_depth_cycles``), since
      it differs per build (see ``spatialsim/kinds/activation.py``).
    - ``gemv_pass_overhead_cycles``: a GEMV pass costs K + this (the adder tree and
      re-quantisation); 6 like a systolic block, an assumption until decode reports exist.
    - ``attn_gemv_overhead_cycles``: pipeline latency of a decode attention head group, an
      assumption.
    - ``dataflow_overhead_cycles``: a region adds this to its longest path (R1 78, R2 24,
      R3 66 beyond it; the mean).
    - ``slr_crossing_cycles``: latency of an inter-SLR AXI-stream link (Laguna flops at both
      ends plus register slices; UG949 recommends registering SLL crossings). An
      assumption of 4 cycles until measured.
    - ``axi_burst_beats`` and ``axi_outstanding_reads``: each m_axi read master issues
      bursts of this many beats and keeps this many in flight (the Vitis HLS m_axi
      defaults, max_read_burst_length 16 and num_read_outstanding 16; UG1399). Together
      they bound what one port can draw from a channel by latency hiding (Little's law:
      outstanding x burst bytes / round-trip latency) and how far a read master runs ahead
      of its consumer (outstanding x burst bytes: 16 KiB for a 512-bit port).
    - ``hbm_efficiency``: the share of an HBM pseudo-channel's measured sequential rate
      that the design's own access pattern reaches on the board (bursts cut short by the
      loop order, strided or interleaved rows that miss pages, refresh, the switch). The
      microbenchmarks behind ``hbm.read_bw_gbps`` stream long sequential bursts; a design
      rarely does as well (Chen 2024 U280: 32-byte bursts at a 4 KB stride get 6.7 GB/s of
      13.2 within an 8 KB window and 2.4 GB/s over 256 MB, shares of 0.51 and 0.18). 1
      until calibrated: the uncalibrated model assumes the microbenchmark's rate.
    - ``launch_overhead_us``: host time of one enqueue (one kernel call: a region kernel,
      a layer or a step, by the design's ``launch_scope``). Not characterised in
      Chen 2024, so 0 by default; board measurements fit it.
    - ``wait_overhead_us``: host time to learn that a launch completed (one completion
      wait per layer, or per step when the layers loop on chip). Not characterised: 0.
    - ``token_overhead_us``: host time per generated token outside the launches (reading
      the token or logits back, sampling, writing the next input). Not characterised: 0.
    - ``reconfig_ms``: time to load the decode bitstream after prefill, for designs whose
      phases use different bitstreams. Not characterised: 0. Reported on its own; TTFT and
      TPOT do not include it.
    - ``link_efficiency``: the share of an inter-card link's payload rate (line rate after
      the 64B/66B coding) that transfers reach: the paper's alpha, "measured" but not given
      (Chen 2024 model). 1 until calibrated, so only the coding is charged.
    - ``link_hop_latency_ns``: from the first word leaving one card's router to it arriving
      at the next card's (Aurora transmit and receive pipelines, transceivers, cable). Not
      published for DFX (Hong 2022); an assumption of 500 ns until measured.
    - ``host_relay_us``: extra time a transfer between cards through the host (topology
      ``host``) spends in host memory between the two PCIe DMAs. Not characterised; an
      assumption of 5 us (a DMA completion and a new enqueue).
    """

    call_overhead_cycles: float = 2.0
    axi_call_cycles: float = 58.0
    array_prologue_cycles: float = 27.0
    array_prologue_divisor: float = 16.0
    row_store_cycles_per_word: float = 0.5
    row_store_overhead_cycles: float = 11.0
    softmax_exp_depth_cycles: float = 49.0
    layernorm_norm_depth_cycles: float = 153.0
    softmax_out_depth_cycles: float = 5.0
    gemv_pass_overhead_cycles: float = 6.0
    attn_gemv_overhead_cycles: float = 16.0
    dataflow_overhead_cycles: float = 56.0
    slr_crossing_cycles: float = 4.0
    axi_burst_beats: float = 16.0
    axi_outstanding_reads: float = 16.0
    hbm_efficiency: float = 1.0
    launch_overhead_us: float = 0.0
    wait_overhead_us: float = 0.0
    token_overhead_us: float = 0.0
    reconfig_ms: float = 0.0
    link_efficiency: float = 1.0
    link_hop_latency_ns: float = 500.0
    host_relay_us: float = 5.0

    def __post_init__(self) -> None:
        check_ranges(self, RANGES, "cost")

    def replace(self, **changes: float) -> CostParams:
        """A copy with ``changes`` applied (names checked)."""
        names = {f.name for f in dataclasses.fields(self)}
        for key in changes:
            if key not in names:
                raise UserError(
                    f"unknown cost parameter {key!r}; valid: {', '.join(sorted(names))}"
                )
        return dataclasses.replace(self, **changes)
