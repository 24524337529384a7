"""Functional models of the kernels, with the hardware's arithmetic.

Shapes are token-major: activations ``[T, F]``; per-head tensors ``[T, H, head_dim]``;
linear weights ``[K, N]``. Integer results are int64 arrays holding exact int32 values.
fp32 results are computed in fp32 in a fixed order; the C++ kernels match integer results
bit for bit and fp32 ones to the tolerances in docs/golden.md.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from spatialsim.golden.packing import dsp_multiply, pack_pair, unpack_products
from spatialsim.golden.quant import F32, quantize, round_away, saturate

I64 = npt.NDArray[np.int64]
F32A = npt.NDArray[np.float32]
PROB_LEVELS = 127  # probabilities exp(x - max) in [0, 1] at scale 1/127
INV_PROB_LEVELS = F32(1.0 / 127.0)
GELU_C = F32(math.sqrt(2.0 / math.pi))
GELU_A = F32(0.044715)


# ---- integer matrix kernels ------------------------------------------------------------


def linear_acc(xq: I64, wq: I64, bias: I64 | None = None) -> I64:
    """int32 accumulators of x (int8, [T, K]) times W ([K, N]) plus an int16 bias."""
    acc: I64 = np.asarray(xq, np.int64) @ np.asarray(wq, np.int64)
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)[None, :]
    return acc


def packed_linear_acc(xq: I64, wq: I64) -> I64:
    """The same accumulators computed the way a packed PE does: output columns in pairs,
    one DSP multiply per (activation, pair), products unpacked with sign correction."""
    xq, wq = np.asarray(xq, np.int64), np.asarray(wq, np.int64)
    n = wq.shape[1]
    w = np.concatenate([wq, np.zeros((wq.shape[0], n % 2), np.int64)], axis=1)
    packed = pack_pair(w[:, 0::2], w[:, 1::2])  # [K, N/2]
    prod = dsp_multiply(packed[None, :, :], xq[:, :, None])  # [T, K, N/2]
    lo, hi = unpack_products(prod)
    out = np.empty((xq.shape[0], w.shape[1]), np.int64)
    out[:, 0::2], out[:, 1::2] = lo.sum(axis=1), hi.sum(axis=1)
    return out[:, :n]


def dequantize(acc: I64, x_scale: npt.ArrayLike, w_scale: npt.ArrayLike) -> F32A:
    """fp32 (acc * x_scale) * w_scale; x_scale per token ([T] or scalar), w_scale per column."""
    xs = np.asarray(x_scale, F32)
    xs = xs[:, None] if xs.ndim == 1 else xs
    return (
        (np.asarray(acc).astype(F32) * xs).astype(F32) * np.asarray(w_scale, F32)[None, :]
    ).astype(F32)


def requantize(y: F32A, scale: npt.ArrayLike) -> I64:
    """int8 at a static scale (a mid-stream quantisation)."""
    return quantize(y, np.asarray(scale, F32))


def repeat_kv(kv: I64, heads: int) -> I64:
    """K or V ``[L, H_kv, hd]`` as ``heads`` heads: under grouped-query attention Q head h
    reads K/V head h // (heads / H_kv) (Hugging Face's repeat_kv); unchanged otherwise."""
    kv = np.asarray(kv, np.int64)
    groups = heads // kv.shape[1]
    if groups * kv.shape[1] != heads:
        raise ValueError(f"{heads} heads are not groups of {kv.shape[1]} K/V heads")
    out: I64 = np.repeat(kv, groups, axis=1) if groups > 1 else kv
    return out


def qk_acc(q: I64, k: I64) -> I64:
    """Scores before scaling, ``[H, T, L]``: q ``[T, H, hd]`` against k ``[L, H_kv, hd]``
    (H_kv = H, or a divisor of it for grouped-query attention)."""
    q = np.asarray(q, np.int64)
    out: I64 = np.einsum("thd,lhd->htl", q, repeat_kv(k, q.shape[1]))
    return out


def causal_mask(scores: F32A, first_position: int) -> F32A:
    """-inf where key j is after query i's position (first_position + i)."""
    t, keys = scores.shape[-2], scores.shape[-1]
    pos = first_position + np.arange(t)[:, None]
    hide = np.arange(keys)[None, :] > pos
    return np.where(hide, F32(-np.inf), scores).astype(F32)


def softmax_exp(scores: F32A) -> tuple[I64, F32A]:
    """Per row: m = max, e = exp(x - m) in [0, 1], sum e in order; returns
    round(127 e) and 1/sum (applied later by softmax.V)."""
    s = np.asarray(scores, F32)
    m = np.max(s, axis=-1, keepdims=True)
    e = np.exp((s - m).astype(F32)).astype(F32)
    total = np.zeros(s.shape[:-1], F32)
    for j in range(s.shape[-1]):  # sequential fp32 sum, as the II = 4 loop does
        total = (total + e[..., j]).astype(F32)
    pq = round_away((e * F32(PROB_LEVELS)).astype(F32))
    return pq, (F32(1.0) / total).astype(F32)


def sv_acc(pq: I64, v: I64) -> I64:
    """Context accumulators ``[T, H, hd]``: probabilities ``[H, T, L]`` times v
    ``[L, H_kv, hd]``."""
    pq = np.asarray(pq, np.int64)
    out: I64 = np.einsum("htl,lhd->thd", pq, repeat_kv(v, pq.shape[0]))
    return out


def context_quantize(acc: I64, inv_sum: F32A) -> I64:
    """The context at V's scale: round(acc / (127 sum)) = acc * (1/sum) * (1/127).

    ``inv_sum`` is ``[H, T]``; acc is ``[T, H, hd]``."""
    scaled = (np.asarray(acc).astype(F32) * np.transpose(inv_sum)[:, :, None]).astype(F32)
    return saturate(round_away((scaled * INV_PROB_LEVELS).astype(F32)), 8)


# ---- fp32 kernels ------------------------------------------------------------------------


def rope_table(positions: int, head_dim: int, theta: float) -> tuple[F32A, F32A]:
    """The angle table the host writes for the RoPE kernels: cos and sin of
    ``pos * theta^(-2i / head_dim)`` for ``positions`` positions and ``head_dim / 2``
    frequencies, computed in float64 and stored as fp32 ``[positions, head_dim / 2]``."""
    half = head_dim // 2
    inv = float(theta) ** (-(2.0 * np.arange(half)) / head_dim)
    angle = np.arange(positions, dtype=np.float64)[:, None] * inv[None, :]
    return np.cos(angle).astype(F32), np.sin(angle).astype(F32)


def rope(x: F32A, positions: npt.ArrayLike, cos: F32A, sin: F32A) -> F32A:
    """Rotate each head of ``x`` ``[T, H, hd]`` by its token's position (``rotate_half``
    layout: element i pairs with i + hd/2), in fp32, each product rounded then added:
    (a c - b s, b c + a s)."""
    x = np.asarray(x, F32)
    half = x.shape[-1] // 2
    pos = np.asarray(positions, np.int64)
    c = np.asarray(cos, F32)[pos][:, None, :]
    s = np.asarray(sin, F32)[pos][:, None, :]
    a, b = x[..., :half], x[..., half:]
    first = ((a * c).astype(F32) - (b * s).astype(F32)).astype(F32)
    second = ((b * c).astype(F32) + (a * s).astype(F32)).astype(F32)
    return np.concatenate([first, second], axis=-1)


def residual(a: F32A, b: F32A) -> F32A:
    return (np.asarray(a, F32) + np.asarray(b, F32)).astype(F32)


def layernorm(x: F32A, gamma: F32A, beta: F32A, eps: float = 1e-5) -> F32A:
    """Mean and variance from one pass of sum and sum of squares (fp32), then
    (x - mean) * rsqrt(var + eps) * gamma + beta."""
    x = np.asarray(x, F32)
    d = x.shape[-1]
    s = np.zeros(x.shape[:-1], F32)
    s2 = np.zeros(x.shape[:-1], F32)
    for c in range(d):
        s = (s + x[..., c]).astype(F32)
        s2 = (s2 + x[..., c] * x[..., c]).astype(F32)
    mean = (s / F32(d)).astype(F32)
    var = (s2 / F32(d) - mean * mean).astype(F32)
    inv = (F32(1.0) / np.sqrt((var + F32(eps)).astype(F32))).astype(F32)
    return (
        ((x - mean[..., None]) * inv[..., None]).astype(F32) * np.asarray(gamma, F32)
        + np.asarray(beta, F32)
    ).astype(F32)


def rmsnorm(x: F32A, gamma: F32A, eps: float = 1e-5) -> F32A:
    """RMSNorm (LLaMA's norm): the mean of squares from one pass (fp32, in order), then
    x * rsqrt(mean + eps) * gamma; no mean subtraction, no bias."""
    x = np.asarray(x, F32)
    d = x.shape[-1]
    s2 = np.zeros(x.shape[:-1], F32)
    for c in range(d):
        s2 = (s2 + x[..., c] * x[..., c]).astype(F32)
    inv = (F32(1.0) / np.sqrt((s2 / F32(d) + F32(eps)).astype(F32))).astype(F32)
    return ((x * inv[..., None]).astype(F32) * np.asarray(gamma, F32)).astype(F32)


def gelu(x: F32A) -> F32A:
    """The tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in fp32.

    Its largest difference from the exact erf GeLU over all reals is 4.7e-4 (near
    |x| = 2.7; ``tests/test_golden.py`` measures it), below the int8 step of typical FFN
    activations."""
    x = np.asarray(x, F32)
    inner = (GELU_C * (x + GELU_A * x * x * x)).astype(F32)
    return (F32(0.5) * x * (F32(1.0) + np.tanh(inner))).astype(F32)


def silu_mul(gate: F32A, up: F32A) -> F32A:
    """SwiGLU's gating in fp32: gate / (1 + exp(-gate)) * up."""
    g = np.asarray(gate, F32)
    return ((g / (F32(1.0) + np.exp(-g).astype(F32))).astype(F32) * np.asarray(up, F32)).astype(F32)


def gelu_erf(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The exact GeLU, x * Phi(x), in float64 (the reference for :func:`gelu`)."""
    xs = np.asarray(x, np.float64)
    return np.array([v * 0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in xs.ravel()]).reshape(
        xs.shape
    )
