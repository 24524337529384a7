"""Tunable constants of the cost models, with their defaults and where each comes from.

Everything here is a parameter that calibration (``spatialsim calibrate``) may refine; the
defaults are read from the chen2024 W4A8 HLS reports (chen2024.md section 4) or from the
platform description. Values are in kernel clock cycles unless the name says otherwise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from spatialsim.errors import UserError


@dataclass(frozen=True)
class CostParams:
    """Per-kernel-class constants the engine's cost models use.

    - ``call_overhead_cycles``: cycles a dataflow function spends around its loops (Vitis
      reports about 2, chen2024.md section 4).
    - ``stream_depth_cycles``: iteration latency of an II = 1 element-wise loop (read, one
      fp32 operation, write). Fitted: GeLU reports 68,212 cycles for 16 packs x 4,096 words,
      i.e. 167 cycles per pack beyond II x trips; the loop itself is a few stages deep, so
      8 is used and the rest is left to calibration.
    - ``softmax_row_overhead_cycles`` / ``layernorm_row_overhead_cycles``: per-row latency
      beyond the passes' II x trips (exp, divide, square root pipelines). From the HLS
      reports: LayerNorm 84,317 = 16 x (5 x 1,024 + 150); softmax 175,617 = 256 rows x
      (5 x 128 + 46) in the artifact (which skips the max pass, chen2024.md 3.2).
    - ``gemv_pass_overhead_cycles``: fill and drain of one GEMV pass (adder tree and
      re-quantisation); the same 9 cycles as a systolic block, an assumption until decode
      HLS reports are available.
    - ``attn_gemv_overhead_cycles``: pipeline latency of one decode attention head group.
    - ``kv_row_overhead_cycles``: per-pack overhead of the K/V writers and Q buffer
      (K_writer 24,721 = 16 x 1,024 x 1.5 + 145 suggests 512 per pack: the writer reads
      the pack twice as wide as it writes; kept as a calibration target).
    - ``slr_crossing_cycles``: latency of an inter-SLR AXI-stream link (Laguna flops at both
      ends plus register slices; UG949 recommends registering SLL crossings). An
      assumption of 4 cycles until measured.
    - ``prefetch_bytes``: how far an AXI read master runs ahead of its consumer: Vitis HLS
      m_axi defaults of 16 outstanding reads x 16-beat bursts x 64-byte beats (UG1399).
    - ``launch_overhead_us``: host time to launch the region kernels of one layer. Not
      characterised in chen2024.md, so 0 by default; board measurements fit it.
    """

    call_overhead_cycles: float = 2.0
    stream_depth_cycles: float = 8.0
    softmax_row_overhead_cycles: float = 46.0
    layernorm_row_overhead_cycles: float = 150.0
    gemv_pass_overhead_cycles: float = 9.0
    attn_gemv_overhead_cycles: float = 16.0
    kv_row_overhead_cycles: float = 0.0
    slr_crossing_cycles: float = 4.0
    prefetch_bytes: float = 16384.0
    launch_overhead_us: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                    or value != value or value == float("inf"):
                raise UserError(f"cost parameter {f.name} must be a finite number >= 0, "
                                f"got {value!r}")

    def replace(self, **changes: float) -> CostParams:
        """A copy with ``changes`` applied (names checked)."""
        names = {f.name for f in dataclasses.fields(self)}
        for key in changes:
            if key not in names:
                raise UserError(f"unknown cost parameter {key!r}; valid: "
                                f"{', '.join(sorted(names))}")
        return dataclasses.replace(self, **changes)
