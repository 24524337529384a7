"""A whole transformer layer with the designs' quantisation: the reference the C++ layer
(three regions chained) is checked against.

Post-LayerNorm (as in BERT and the chen2024 designs): Q/K/V from int8 inputs, causal
attention, output projection, residual 0, LayerNorm 0, FFN with GeLU, residual 1,
LayerNorm 1. :func:`make_layer` draws random weights, quantises them and calibrates the
static scales on a calibration input.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt

import numpy as np
import numpy.typing as npt

from spatialsim.golden import ops
from spatialsim.golden.quant import (
    F32,
    quantize,
    quantize_per_token,
    quantize_weights,
    static_scale,
)

I64 = npt.NDArray[np.int64]
F32A = npt.NDArray[np.float32]


@dataclass
class Linear:
    w: I64  # [K, N] int4 or int8 values
    scale: F32A  # [N]
    bias: I64 | None  # [N] int16, in accumulator units


@dataclass
class LayerParams:
    hidden: int
    heads: int
    ffn: int
    weight_bits: int
    q: Linear
    k: Linear
    v: Linear
    o: Linear
    f1: Linear
    f2: Linear
    ln0_gamma: F32A
    ln0_beta: F32A
    ln1_gamma: F32A
    ln1_beta: F32A
    s_q: np.float32  # static scales of Q, K, V and the two FFN inputs
    s_k: np.float32
    s_v: np.float32
    s_f1: np.float32
    s_f2: np.float32

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def qk_scale(self) -> np.float32:
        """s_q * s_k / sqrt(head_dim): one fp32 constant turns a Q.K^T accumulator into a
        score."""
        return F32(F32(self.s_q * self.s_k) * F32(1.0 / sqrt(self.head_dim)))


def forward(
    x: F32A,
    p: LayerParams,
    first_position: int = 0,
    past_k: I64 | None = None,
    past_v: I64 | None = None,
) -> dict[str, np.ndarray]:
    """The layer on fp32 input ``x`` ``[T, d]``; every intermediate by kernel name.

    For a decode step, ``past_k`` and ``past_v`` (int8 ``[first_position, d]``) are the
    cached rows the new tokens attend to along with themselves."""
    t, h, hd = x.shape[0], p.heads, p.head_dim
    out: dict[str, np.ndarray] = {}
    xq, xs = quantize_per_token(x)
    out["x_q"], out["x_scale"] = xq, xs
    for name, lin, s in (("q", p.q, p.s_q), ("k", p.k, p.s_k), ("v", p.v, p.s_v)):
        acc = ops.linear_acc(xq, lin.w, lin.bias)
        out[f"{name}_acc"] = acc
        out[name] = ops.requantize(ops.dequantize(acc, xs, lin.scale), s)
    q, k, v = (out[n].reshape(t, h, hd) for n in ("q", "k", "v"))
    if past_k is not None and past_v is not None:
        k = np.concatenate([np.asarray(past_k).reshape(-1, h, hd), k])
        v = np.concatenate([np.asarray(past_v).reshape(-1, h, hd), v])
    acc = ops.qk_acc(q, k)
    out["qk_acc"] = acc
    scores = (acc.astype(F32) * p.qk_scale).astype(F32)
    out["scores"] = ops.causal_mask(scores, first_position)
    pq, inv_sum = ops.softmax_exp(out["scores"])
    out["probs"], out["inv_sum"] = pq, inv_sum
    ctx_acc = ops.sv_acc(pq, v)
    out["ctx_acc"] = ctx_acc
    ctx = ops.context_quantize(ctx_acc, inv_sum).reshape(t, h * hd)
    out["ctx"] = ctx
    o_acc = ops.linear_acc(ctx, p.o.w, p.o.bias)
    out["o"] = ops.dequantize(o_acc, p.s_v, p.o.scale)  # context sits at V's scale
    out["res0"] = ops.residual(out["o"], x)
    out["ln0"] = ops.layernorm(out["res0"], p.ln0_gamma, p.ln0_beta)
    f1_in = quantize(out["ln0"], p.s_f1)
    out["f1_in"] = f1_in
    f1 = ops.dequantize(ops.linear_acc(f1_in, p.f1.w, p.f1.bias), p.s_f1, p.f1.scale)
    out["f1"] = f1
    out["gelu"] = ops.gelu(f1)
    f2_in = quantize(out["gelu"], p.s_f2)
    out["f2_in"] = f2_in
    out["f2"] = ops.dequantize(ops.linear_acc(f2_in, p.f2.w, p.f2.bias), p.s_f2, p.f2.scale)
    out["res1"] = ops.residual(out["f2"], out["ln0"])
    out["y"] = ops.layernorm(out["res1"], p.ln1_gamma, p.ln1_beta)
    return out


def make_layer(
    rng: np.random.Generator,
    hidden: int,
    heads: int,
    ffn: int,
    weight_bits: int,
    calib: F32A,
    bias: bool = False,
) -> LayerParams:
    """Random weights (quantised to ``weight_bits``), LayerNorm parameters near 1 and 0,
    and static scales calibrated on ``calib`` ``[T, hidden]``."""

    def lin(k: int, n: int) -> Linear:
        w, s = quantize_weights(rng.normal(0, 1 / sqrt(k), (k, n)).astype(F32), weight_bits)
        b = rng.integers(-2000, 2000, n).astype(np.int64) if bias else None
        return Linear(w, s, b)

    unit = F32(1.0)
    p = LayerParams(
        hidden=hidden,
        heads=heads,
        ffn=ffn,
        weight_bits=weight_bits,
        q=lin(hidden, hidden),
        k=lin(hidden, hidden),
        v=lin(hidden, hidden),
        o=lin(hidden, hidden),
        f1=lin(hidden, ffn),
        f2=lin(ffn, hidden),
        ln0_gamma=(1 + 0.1 * rng.normal(size=hidden)).astype(F32),
        ln0_beta=(0.1 * rng.normal(size=hidden)).astype(F32),
        ln1_gamma=(1 + 0.1 * rng.normal(size=hidden)).astype(F32),
        ln1_beta=(0.1 * rng.normal(size=hidden)).astype(F32),
        s_q=unit,
        s_k=unit,
        s_v=unit,
        s_f1=unit,
        s_f2=unit,
    )
    # calibration: the fp32 values each static scale must cover
    xq, xs = quantize_per_token(calib)
    for name in ("q", "k", "v"):
        lin_ = getattr(p, name)
        y = ops.dequantize(ops.linear_acc(xq, lin_.w, lin_.bias), xs, lin_.scale)
        setattr(p, f"s_{name}", static_scale(y))
    p.s_f1 = static_scale(forward(calib, p)["ln0"])  # LayerNorm 0 does not use s_f1
    p.s_f2 = static_scale(forward(calib, p)["gelu"])  # GeLU's input now uses s_f1
    return p
