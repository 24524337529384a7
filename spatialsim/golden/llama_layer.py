"""A LLaMA-family layer with the chen2024-llama templates' quantisation: the reference the
C++ LLaMA layer (``hw_kernels/include/spatial/regions_llama.h``) is checked against.

Pre-norm, as LLaMA: ``h = x + attn(rmsnorm(x))``, ``y = h + ffn(rmsnorm(h))``. Each input
norm writes int8 at a static scale; Q and K leave their projections in fp32, are rotated
(RoPE, ``rotate_half`` layout) and quantised at their static scales; V is quantised at
the projection. Attention is grouped-query (``kv_heads`` K/V heads). The FFN is SwiGLU:
gate and up projections in fp32, SiLU(gate) x up quantised for the down projection.
:func:`make_llama_layer` draws random weights, quantises them and calibrates the static
scales on a calibration input.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt

import numpy as np
import numpy.typing as npt

from spatialsim.golden import ops
from spatialsim.golden.layer import Linear
from spatialsim.golden.quant import F32, quantize, quantize_weights, static_scale

I64 = npt.NDArray[np.int64]
F32A = npt.NDArray[np.float32]
EPS = 1e-5  # rms_norm_eps of the LLaMA configs (Llama-3.2-1B, Llama-3-8B, Mistral)


@dataclass
class LlamaParams:
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    weight_bits: int
    q: Linear
    k: Linear
    v: Linear
    o: Linear
    gate: Linear
    up: Linear
    down: Linear
    attn_gamma: F32A  # the input norm's weights
    ffn_gamma: F32A  # the FFN norm's weights
    cos: F32A  # the angle table, [positions, head_dim / 2]
    sin: F32A
    s_xn: np.float32  # static scales: the input norm's output (Q/K/V input),
    s_q: np.float32  # Q and K after RoPE, V,
    s_k: np.float32
    s_v: np.float32
    s_hn: np.float32  # the FFN norm's output (gate and up input),
    s_f2: np.float32  # SiLU(gate) x up (the down projection's input)

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def qk_scale(self) -> np.float32:
        return F32(F32(self.s_q * self.s_k) * F32(1.0 / sqrt(self.head_dim)))


def forward(
    x: F32A,
    p: LlamaParams,
    first_position: int = 0,
    past_k: I64 | None = None,
    past_v: I64 | None = None,
) -> dict[str, np.ndarray]:
    """The layer on fp32 input ``x`` ``[T, d]``; every intermediate by name. For a decode
    step, ``past_k`` / ``past_v`` (int8 ``[first_position, kv_heads * head_dim]``) are
    the cached rows."""
    t, h, kvh, hd = x.shape[0], p.heads, p.kv_heads, p.head_dim
    out: dict[str, np.ndarray] = {}
    xq = quantize(ops.rmsnorm(x, p.attn_gamma, EPS), p.s_xn)
    out["xn_q"] = xq
    pos = first_position + np.arange(t)

    def project(lin: Linear) -> F32A:
        return ops.dequantize(ops.linear_acc(xq, lin.w, lin.bias), p.s_xn, lin.scale)

    q = ops.rope(project(p.q).reshape(t, h, hd), pos, p.cos, p.sin)
    k = ops.rope(project(p.k).reshape(t, kvh, hd), pos, p.cos, p.sin)
    out["q"] = quantize(q, p.s_q).reshape(t, h * hd)
    out["k"] = quantize(k, p.s_k).reshape(t, kvh * hd)
    out["v"] = ops.requantize(project(p.v), p.s_v)
    kk, vv = out["k"].reshape(t, kvh, hd), out["v"].reshape(t, kvh, hd)
    if past_k is not None and past_v is not None:
        kk = np.concatenate([np.asarray(past_k).reshape(-1, kvh, hd), kk])
        vv = np.concatenate([np.asarray(past_v).reshape(-1, kvh, hd), vv])
    acc = ops.qk_acc(out["q"].reshape(t, h, hd), kk)
    scores = ops.causal_mask((acc.astype(F32) * p.qk_scale).astype(F32), first_position)
    probs, inv_sum = ops.softmax_exp(scores)
    out["ctx"] = ops.context_quantize(ops.sv_acc(probs, vv), inv_sum).reshape(t, h * hd)
    o = ops.dequantize(ops.linear_acc(out["ctx"], p.o.w, p.o.bias), p.s_v, p.o.scale)
    out["res0"] = ops.residual(o, x)
    hq = quantize(ops.rmsnorm(out["res0"], p.ffn_gamma, EPS), p.s_hn)
    gate = ops.dequantize(ops.linear_acc(hq, p.gate.w, p.gate.bias), p.s_hn, p.gate.scale)
    up = ops.dequantize(ops.linear_acc(hq, p.up.w, p.up.bias), p.s_hn, p.up.scale)
    out["swiglu"] = ops.silu_mul(gate, up)
    f2_in = quantize(out["swiglu"], p.s_f2)
    down = ops.dequantize(ops.linear_acc(f2_in, p.down.w, p.down.bias), p.s_f2, p.down.scale)
    out["y"] = ops.residual(down, out["res0"])
    return out


def make_llama_layer(
    rng: np.random.Generator,
    hidden: int,
    heads: int,
    kv_heads: int,
    ffn: int,
    weight_bits: int,
    calib: F32A,
    positions: int,
    theta: float = 500_000.0,
) -> LlamaParams:
    """Random weights (quantised to ``weight_bits``), norm weights near 1, an angle table
    for ``positions`` positions, and static scales calibrated on ``calib`` ``[T, hidden]``
    (no biases: LLaMA's linears have none)."""

    def lin(k: int, n: int) -> Linear:
        w, s = quantize_weights(rng.normal(0, 1 / sqrt(k), (k, n)).astype(F32), weight_bits)
        return Linear(w, s, None)

    hd = hidden // heads
    cos, sin = ops.rope_table(positions, hd, theta)
    unit = F32(1.0)
    p = LlamaParams(
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        ffn=ffn,
        weight_bits=weight_bits,
        q=lin(hidden, hidden),
        k=lin(hidden, kv_heads * hd),
        v=lin(hidden, kv_heads * hd),
        o=lin(hidden, hidden),
        gate=lin(hidden, ffn),
        up=lin(hidden, ffn),
        down=lin(ffn, hidden),
        attn_gamma=(1 + 0.1 * rng.normal(size=hidden)).astype(F32),
        ffn_gamma=(1 + 0.1 * rng.normal(size=hidden)).astype(F32),
        cos=cos,
        sin=sin,
        s_xn=unit,
        s_q=unit,
        s_k=unit,
        s_v=unit,
        s_hn=unit,
        s_f2=unit,
    )
    # calibration, in dataflow order: each static scale covers the fp32 values it quantises
    t = calib.shape[0]
    p.s_xn = static_scale(ops.rmsnorm(calib, p.attn_gamma, EPS))
    xq = quantize(ops.rmsnorm(calib, p.attn_gamma, EPS), p.s_xn)
    pos = np.arange(t)
    for name, heads_of in (("q", heads), ("k", kv_heads)):
        lin_ = getattr(p, name)
        y = ops.dequantize(ops.linear_acc(xq, lin_.w), p.s_xn, lin_.scale)
        setattr(p, f"s_{name}", static_scale(ops.rope(y.reshape(t, heads_of, hd), pos, cos, sin)))
    p.s_v = static_scale(ops.dequantize(ops.linear_acc(xq, p.v.w), p.s_xn, p.v.scale))
    res0 = forward(calib, p)["res0"]
    p.s_hn = static_scale(ops.rmsnorm(res0, p.ffn_gamma, EPS))
    p.s_f2 = static_scale(forward(calib, p)["swiglu"])
    return p
