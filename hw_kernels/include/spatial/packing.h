// packing.h: two weights per DSP48E2 multiply, bit-exact for signed values.
//
// The 27-bit operand holds (w_hi << 18) + w_lo (w_lo sign-extended); times an int8
// activation it gives (w_hi * a) << 18 + w_lo * a in a 45-bit product. The low product is
// the low 18 bits read as two's complement; a negative low product borrows one from the
// high field, so the high product is (P - low) >> 18. chen2024.md 3.2: the public artifact
// reads the fields without this correction and is wrong whenever w_lo * a < 0.
// Golden model: spatialsim.golden.packing.
#pragma once

#include <ap_int.h>

namespace spatial {

constexpr int LANE_SHIFT = 18;

template <int W>
inline ap_int<27> pack_pair(ap_int<W> w_lo, ap_int<W> w_hi) {
    static_assert(W <= 8, "packed weights must be at most 8 bits");
    ap_int<27> hi = ap_int<27>(w_hi) << LANE_SHIFT;
    return hi + ap_int<27>(w_lo);
}

inline void packed_multiply(ap_int<27> packed, ap_int<8> a, ap_int<32>& lo, ap_int<32>& hi) {
#pragma HLS INLINE
    ap_int<45> p = ap_int<45>(packed) * ap_int<45>(a);  // one DSP48E2 (27 x 18)
    ap_int<18> low = p.range(LANE_SHIFT - 1, 0);        // sign-extended low field
    lo = low;
    hi = (p - ap_int<45>(low)) >> LANE_SHIFT;
}

}  // namespace spatial
