"""Quantisation as the hardware does it, in fp32 with round-half-away-from-zero.

The scheme (docs/golden.md):

- activations into a layer are int8 with a per-token scale, max|x| / 127 over the row (the
  previous layer's output writer sees the whole row and stores its maximum with it);
- weights are int4 or int8 with a per-output-channel scale;
- everything quantised mid-stream (Q, K, V, the FFN inputs) uses a static per-tensor scale
  from calibration, because a kernel streaming a row cannot see the row's maximum before it
  must emit the first element;
- attention probabilities are exp(x - max) in [0, 1] at a fixed scale of 1/127, and the
  row's 1/sum is applied when softmax.V re-quantises (deferred normalisation);
- the context is int8 at V's scale: it is a convex combination of V rows, so it cannot
  exceed them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F32 = np.float32
Array = npt.ArrayLike


def round_away(x: Array) -> npt.NDArray[np.int64]:
    """Round half away from zero in fp32, as ``(int)(x + (x >= 0 ? 0.5f : -0.5f))``."""
    v = np.asarray(x, dtype=F32)
    half = np.where(v >= 0, F32(0.5), F32(-0.5)).astype(F32)
    out: npt.NDArray[np.int64] = np.trunc((v + half).astype(F32)).astype(np.int64)
    return out


def saturate(q: npt.NDArray[np.int64], bits: int) -> npt.NDArray[np.int64]:
    hi = (1 << (bits - 1)) - 1
    return np.clip(q, -hi, hi)


def inverse_scale(scale: Array) -> npt.NDArray[np.float32]:
    """1 / scale in fp32 (the hardware multiplies by it rather than dividing)."""
    return (F32(1.0) / np.asarray(scale, dtype=F32)).astype(F32)


def quantize(x: Array, scale: Array, bits: int = 8) -> npt.NDArray[np.int64]:
    """round(x * (1/scale)) saturated to ``bits``; ``scale`` broadcasts against ``x``."""
    prod = (np.asarray(x, dtype=F32) * inverse_scale(scale)).astype(F32)
    return saturate(round_away(prod), bits)


def per_token_scale(x: Array, bits: int = 8) -> npt.NDArray[np.float32]:
    """max|x| / (2^(bits-1) - 1) per row (1 for an all-zero row)."""
    m = np.max(np.abs(np.asarray(x, dtype=F32)), axis=-1)
    m = np.where(m > 0, m, F32((1 << (bits - 1)) - 1)).astype(F32)
    return (m / F32((1 << (bits - 1)) - 1)).astype(F32)


def quantize_per_token(
    x: Array, bits: int = 8
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    s = per_token_scale(x, bits)
    return quantize(x, s[..., None], bits), s


def quantize_weights(w: Array, bits: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Per output channel (last axis of a K x N matrix) symmetric quantisation."""
    w = np.asarray(w, dtype=F32)
    m = np.max(np.abs(w), axis=0)
    hi = F32((1 << (bits - 1)) - 1)
    m = np.where(m > 0, m, hi).astype(F32)
    s = (m / hi).astype(F32)
    return quantize(w, s[None, :], bits), s


def static_scale(samples: Array, bits: int = 8) -> np.float32:
    """A per-tensor calibration scale: max|x| / (2^(bits-1) - 1) over the samples."""
    m = F32(np.max(np.abs(np.asarray(samples, dtype=F32))))
    return F32(m / F32((1 << (bits - 1)) - 1)) if m > 0 else F32(1.0)
