"""A batch-1 latency and energy model of a GPU running the same transformer layers.

The baseline a spatial design must beat (Chen 2024 compares against an A100 in decode).
At batch 1 a GPU reaches a small share of its datasheet peaks, and a small model is limited
by how fast the host launches kernels rather than by bandwidth, so the model has three
parts, each a documented parameter (GpuParams) that calibration against your own GPU runs
should settle:

- **device time** of each kernel: its roofline at achievable fractions of the peaks,
  ``max(2 MACs / (peak FLOPS x compute_efficiency), bytes / (peak bandwidth x
  bandwidth_efficiency))``; bytes are the operator's weights, inputs, outputs and KV-cache
  traffic (spatialsim/workload/operators.py) at the precision's widths;
- **launch cost** per kernel, which depends on the execution mode: ``eager`` (PyTorch
  launching every operator as its own kernel from Python) pays ``eager_launch_us`` per
  kernel; ``graphs`` (CUDA graphs, or a serving engine that fuses and replays) pays
  ``graph_launch_us`` per kernel and launches fewer kernels. A kernel takes the longer of
  its device time and its launch cost (the host cannot issue the next one sooner);
- **a per-step cost** (host work per prefill or decode step: sampling, synchronisation,
  the framework's bookkeeping), ``eager_step_us`` or ``graph_step_us``.

Kernels per layer (``kernels``): in ``eager`` mode, one per operator of the layer's operator
list (each linear one cuBLAS call with its bias, each element-wise or reduction operator
one kernel; GPT-2-medium: 15); in ``graphs`` mode the element-wise operators (mask,
residual adds, the activation) are fused into their neighbours and Q.K^T, the mask, the
softmax and softmax.V are one fused attention kernel (as FlashAttention does), leaving the
linears, the norms and the attention kernel (GPT-2-medium: 9).

Both sides count the transformer layers only (no embedding, final norm or LM head), as the
spatial designs simulated here do. Energy: the board draws ``idle_fraction`` of its
maximum power when idle and ``busy_fraction`` of it while a kernel runs on the device; the
run's energy is the time-weighted mix.

The defaults are assumptions of the right order, not measurements: the datasheet gives
peaks only (spatialsim/hardware/data/gpu/*.toml), and batch-1 efficiencies, launch costs and
power vary with the software stack. Every one of them is listed with what it rests on in
``PARAMS``; change one with ``gpu_params`` (``--gpu-param`` on the command line).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from spatialsim.errors import UserError
from spatialsim.hardware.gpu import Gpu
from spatialsim.workload.models import ModelConfig
from spatialsim.workload.operators import Operator, Precision, head_operators, layer_operators

MODES = ("eager", "graphs")
PRECISIONS = {"fp16": Precision(16, 16), "int8": Precision(8, 8)}
FUSED_ATTENTION = ("qk_matmul", "mask", "softmax", "sv_matmul")


@dataclass(frozen=True)
class GpuParams:
    """What a batch-1 run reaches of a GPU's peaks, and what the host adds (see PARAMS)."""

    bandwidth_efficiency: float = 0.7
    compute_efficiency: float = 0.4
    eager_launch_us: float = 10.0
    graph_launch_us: float = 2.0
    eager_step_us: float = 100.0
    graph_step_us: float = 20.0
    idle_fraction: float = 0.15
    busy_fraction: float = 0.6


# name -> (low, high, what it rests on)
PARAMS: dict[str, tuple[float, float, str]] = {
    "bandwidth_efficiency": (0.01, 1.0, "assumption: a batch-1 GEMV streams its weights at "
                             "well under peak bandwidth; calibrate with your runs"),
    "compute_efficiency": (0.001, 1.0, "assumption: small GEMMs (prefill of one prompt) reach "
                           "a fraction of peak tensor throughput"),
    "eager_launch_us": (0.1, 1000.0, "assumption: host dispatch of one PyTorch operator and "
                        "its kernel launch, microseconds"),
    "graph_launch_us": (0.01, 1000.0, "assumption: per-kernel gap when a CUDA graph replays"),
    "eager_step_us": (0.0, 100_000.0, "assumption: host work per step in eager PyTorch"),
    "graph_step_us": (0.0, 100_000.0, "assumption: host work per step with CUDA graphs"),
    "idle_fraction": (0.0, 1.0, "assumption: idle board power as a share of maximum power"),
    "busy_fraction": (0.0, 1.0, "assumption: board power while a batch-1 kernel runs, "
                      "as a share of maximum power"),
}  # fmt: skip


def gpu_params(values: dict[str, float] | None = None) -> GpuParams:
    """GpuParams with ``values`` (name -> number) replacing defaults, each checked."""
    values = values or {}
    for name, value in values.items():
        if name not in PARAMS:
            raise UserError(
                f"GPU parameter {name!r} is unknown; valid: {', '.join(PARAMS)}", field="gpu_params"
            )
        lo, hi, _ = PARAMS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"GPU parameter {name} must be a number, got {value!r:.40}",
                            field="gpu_params")  # fmt: skip
        if not math.isfinite(value) or not lo <= value <= hi:
            raise UserError(f"GPU parameter {name} = {value!r}: expected {lo:g} to {hi:g}",
                            field="gpu_params")  # fmt: skip
    params = GpuParams(**{k: float(v) for k, v in values.items()})
    if params.busy_fraction < params.idle_fraction:
        raise UserError(
            f"GPU parameter busy_fraction {params.busy_fraction:g} is below idle_fraction "
            f"{params.idle_fraction:g}",
            field="gpu_params",
        )
    return params


def kernels(ops: list[Operator], mode: str) -> list[list[Operator]]:
    """The layer's kernels, each the operators it computes (see the module's docstring)."""
    if mode == "eager":
        return [[op] for op in ops]
    if mode != "graphs":
        raise UserError(f"GPU mode {mode!r}; valid: {', '.join(MODES)}", field="gpu_mode")
    out: list[list[Operator]] = []
    attention = [op for op in ops if op.name in FUSED_ATTENTION]
    for op in ops:
        if op.name in FUSED_ATTENTION:
            if op is attention[0]:
                out.append(attention)
        elif op.kind != "elementwise":
            out.append([op])
    return out


def _kernel_bytes(group: list[Operator]) -> float:
    """Bytes a kernel moves: a fused kernel reads its first operator's inputs and writes its
    last one's outputs; weights and KV-cache traffic are all read."""
    weights = sum(op.weight_bytes + op.kv_bytes for op in group)
    return weights + group[0].input_bytes + group[-1].output_bytes


def device_us(group: list[Operator], gpu: Gpu, precision: Precision, p: GpuParams) -> float:
    """A kernel's roofline time on the device, microseconds."""
    peak = gpu.int8_tops if precision.weight_bits <= 8 else gpu.fp16_tflops  # 1e12 ops/s
    compute = sum(2 * op.macs for op in group) / (peak * 1e12 * p.compute_efficiency)
    memory = _kernel_bytes(group) / (gpu.bandwidth_gbps * 1e9 * p.bandwidth_efficiency)
    return max(compute, memory) * 1e6


@dataclass(frozen=True)
class GpuStep:
    """One prefill or decode step of all layers: wall time, device-busy time, kernels."""

    ms: float
    busy_ms: float
    kernels: int


def step(
    model: ModelConfig, gpu: Gpu, phase: str, tokens: int, mode: str, precision: Precision,
    p: GpuParams, layers: int, head: bool = False,
) -> GpuStep:  # fmt: skip
    """One step (prefill of ``tokens`` or decode at context ``tokens``) over ``layers``,
    and with ``head`` the model's head once (final norm, LM head, argmax, embedding)."""
    groups = kernels(layer_operators(model, phase, tokens, precision), mode)  # type: ignore[arg-type]
    launch = p.eager_launch_us if mode == "eager" else p.graph_launch_us
    per_step = p.eager_step_us if mode == "eager" else p.graph_step_us
    dev = [device_us(g, gpu, precision, p) for g in groups]
    wall_us = layers * sum(max(d, launch) for d in dev) + per_step
    busy_us, count = layers * sum(dev), layers * len(groups)
    if head:
        tail = [device_us(g, gpu, precision, p) for g in kernels(head_operators(model, precision),
                                                                mode)]  # fmt: skip
        wall_us += sum(max(d, launch) for d in tail)
        busy_us, count = busy_us + sum(tail), count + len(tail)
    return GpuStep(wall_us / 1e3, busy_us / 1e3, count)


@dataclass(frozen=True)
class GpuRun:
    """What :func:`run` predicts: latencies, kernels and energy of one batch-1 request."""

    gpu: str
    mode: str
    precision: str
    ttft_ms: float
    per_token_ms: tuple[float, ...]
    prefill_kernels: int
    decode_kernels: int
    prefill_j: float
    decode_j: float
    params: GpuParams

    @property
    def tpot_ms(self) -> float | None:
        return sum(self.per_token_ms) / len(self.per_token_ms) if self.per_token_ms else None

    def to_json(self) -> dict[str, Any]:
        gen = len(self.per_token_ms)
        total_ms = self.ttft_ms + sum(self.per_token_ms)
        return {
            "gpu": self.gpu,
            "mode": self.mode,
            "precision": self.precision,
            "ttft_ms": self.ttft_ms,
            "tpot_ms": self.tpot_ms,
            "per_token_ms": list(self.per_token_ms),
            "kernels_per_step": {"prefill": self.prefill_kernels, "decode": self.decode_kernels},
            "prefill_j": self.prefill_j,
            "decode_j_per_token": self.decode_j / gen if gen else None,
            "energy_j": self.prefill_j + self.decode_j,
            "average_w": (self.prefill_j + self.decode_j) / total_ms * 1e3,
            "params": dataclasses.asdict(self.params),
            "model": "spatialsim/analytical/gpu.py (roofline at achievable fractions, "
            "launch and step costs; assumptions until calibrated)",
        }


def _joules(s: GpuStep, gpu: Gpu, p: GpuParams) -> float:
    idle, busy = p.idle_fraction * gpu.tdp_w, p.busy_fraction * gpu.tdp_w
    share = min(s.busy_ms / s.ms, 1.0) if s.ms > 0 else 0.0
    return s.ms / 1e3 * (idle + (busy - idle) * share)


def run(
    model: ModelConfig, gpu: Gpu, prompt_len: int, gen_len: int, mode: str = "graphs",
    precision: str = "fp16", params: GpuParams | None = None, layers: int | None = None,
    head: bool = False,
) -> GpuRun:  # fmt: skip
    """A batch-1 request on ``gpu``: prefill of ``prompt_len``, then ``gen_len`` tokens, each
    decoded at contexts prompt_len .. prompt_len + gen_len - 1; with ``head``, each step
    also runs the model's head once (as a design with a head on the card does)."""
    if mode not in MODES:
        raise UserError(f"GPU mode {mode!r}; valid: {', '.join(MODES)}", field="gpu_mode")
    if precision not in PRECISIONS:
        raise UserError(f"GPU precision {precision!r}; valid: {', '.join(PRECISIONS)}",
                        field="gpu_precision")  # fmt: skip
    p = params or GpuParams()
    prec = PRECISIONS[precision]
    n = model.layers if layers is None else layers
    need_gb = model.layers * sum(
        op.weight_bytes for op in layer_operators(model, "decode", 1, prec)
    ) / 1e9  # fmt: skip
    if need_gb > gpu.memory_gb:
        raise UserError(
            f"{model.name}'s layer weights need {need_gb:,.1f} GB in {precision}; {gpu.name} "
            f"has {gpu.memory_gb:g} GB",
            field="gpu",
        )
    pre = step(model, gpu, "prefill", prompt_len, mode, prec, p, n, head)
    dec = [step(model, gpu, "decode", c, mode, prec, p, n, head)
           for c in range(prompt_len, prompt_len + gen_len)]  # fmt: skip
    return GpuRun(
        gpu=gpu.name,
        mode=mode,
        precision=precision,
        ttft_ms=pre.ms,
        per_token_ms=tuple(s.ms for s in dec),
        prefill_kernels=pre.kernels,
        decode_kernels=dec[0].kernels if dec else 0,
        prefill_j=_joules(pre, gpu, p),
        decode_j=sum(_joules(s, gpu, p) for s in dec),
        params=p,
    )
