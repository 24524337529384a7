"""Two weights in one DSP48E2 multiply, bit-exact for signed values.

A DSP48E2 multiplies a 27-bit operand by an 18-bit one into a 45-bit product. Packing two
weights into the 27-bit operand as ``(w_hi << 18) + w_lo`` (``w_lo`` sign-extended) and
multiplying by an int8 activation ``a`` gives ``P = (w_hi * a) << 18 + w_lo * a``. The low
product occupies the low 18 bits in two's complement; when it is negative it borrows one
from the high field. The correct extraction sign-extends the low field and adds the borrow
back to the high one (Chen 2024 attention: the public artifact omits this and is wrong for
negative low products).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

LANE_SHIFT = 18
I64 = npt.NDArray[np.int64]


def pack_pair(w_lo: I64, w_hi: I64) -> I64:
    """The 27-bit DSP operand holding two signed weights."""
    return (np.asarray(w_hi, np.int64) << LANE_SHIFT) + np.asarray(w_lo, np.int64)


def dsp_multiply(packed: I64, a: I64) -> I64:
    """The 45-bit two's-complement product the DSP computes (modelled in int64)."""
    p = np.asarray(packed, np.int64) * np.asarray(a, np.int64)
    mask = (1 << 45) - 1
    p = p & mask
    return np.where(p >= (1 << 44), p - (1 << 45), p)


def unpack_products(p: I64) -> tuple[I64, I64]:
    """(w_lo * a, w_hi * a) from a packed product: sign-extend the low 18 bits, then the
    high field is (P - low) >> 18 exactly."""
    p = np.asarray(p, np.int64)
    low = p & ((1 << LANE_SHIFT) - 1)
    low = np.where(low >= (1 << (LANE_SHIFT - 1)), low - (1 << LANE_SHIFT), low)
    high = (p - low) >> LANE_SHIFT
    return low, high


def unpack_naive(p: I64) -> tuple[I64, I64]:
    """The artifact's extraction (no sign extension, no borrow): wrong for negative lows."""
    p = np.asarray(p, np.int64)
    return p & ((1 << LANE_SHIFT) - 1), p >> LANE_SHIFT
