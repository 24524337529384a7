// linear.h: output-stationary systolic linear with two weights per DSP (chen2024.md 3.1).
//
// Config C (all static constexpr):
//   P       tokens per pack = array rows; one input word carries one feature of P tokens
//   K, N    input and output features
//   COLS    PE columns; PACK weights per DSP (2); OUTS = COLS * PACK outputs per block
//   W_BITS  4 (W4A8) or 8 (W8A8)
//   HAS_BIAS   add an int16 bias (accumulator units) before re-quantisation
//   OUT_FP32   write fp32 (feeds a residual or GeLU) instead of int8 at a static scale
//   TOKEN_SCALES  input scales arrive per pack on `scale_in` (from a loader) rather than
//                 being the static `x_scale`
// Weights: word b * K + k holds the OUTS weights of block b at reduction index k, output o of
// the block in bits [o * W_BITS, (o + 1) * W_BITS). Golden model: spatialsim.golden.ops
// linear_acc / packed_linear_acc / dequantize / requantize.
//
// Per pack, block 0's MAC loop reads the input row from the stream and keeps it; blocks
// 1.. replay it. A block's outputs leave through output registers while the next block
// computes (its first OUTS MAC iterations each write one word), so a block costs K + depth
// cycles; the last block's outputs leave in FLUSH. Loop labels match the cost model
// (spatialsim/costmodel/isolated.py): MAC, DRAIN_REST, FLUSH.
#pragma once

#include <type_traits>

#include "spatial/drain.h"
#include "spatial/packing.h"
#include "spatial/stream.h"
#include "spatial/types.h"

namespace spatial {

template <class C>
struct linear_traits {
    static constexpr int OUTS = C::COLS * C::PACK;
    static constexpr int BLOCKS = (C::N + OUTS - 1) / OUTS;
    using wword = ap_uint<OUTS * C::W_BITS>;
    using out_t = typename std::conditional<C::OUT_FP32, pack_f32<C::P>, pack_i8<C::P>>::type;
    static_assert(C::PACK == 2, "the packed PE holds two weights per DSP");
};

template <class C>
void linear(stream<pack_i8<C::P>>& in, stream<pack_f32<C::P>>& scale_in,
            const typename linear_traits<C>::wword* weights, const float* w_scale,
            const ap_int<16>* bias, float x_scale, float out_inv_scale,
            stream<typename linear_traits<C>::out_t>& out, int packs) {
    using T = linear_traits<C>;
    using out_t = typename T::out_t;
    constexpr int P = C::P, K = C::K, OUTS = T::OUTS;
    pack_i8<P> row[K];
    ap_int<32> acc[P][OUTS];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 0
    out_t regs[OUTS];  // output registers: the previous block's results, draining
#pragma HLS ARRAY_PARTITION variable = regs complete
    int pending = 0;   // words in regs still to write
    float xs[P];
    for (int p = 0; p < packs; ++p) {
        if (C::TOKEN_SCALES) {
            pack_f32<P> s = scale_in.read();
            for (int r = 0; r < P; ++r) xs[r] = s.v[r];
        } else {
            for (int r = 0; r < P; ++r) xs[r] = x_scale;
        }
        for (int b = 0; b < T::BLOCKS; ++b) {
            for (int r = 0; r < P; ++r)
                for (int o = 0; o < OUTS; ++o) acc[r][o] = 0;
            SPATIAL_ENTER("linear.MAC");
        MAC:
            for (int k = 0; k < K; ++k) {
#pragma HLS PIPELINE II = 1
                SPATIAL_TRIP("linear.MAC");
                if (k < pending) out.write(regs[k]);  // drain the previous block
                pack_i8<P> a;
                if (b == 0) {
                    a = in.read();  // block 0 streams the row in and keeps it
                    row[k] = a;
                } else {
                    a = row[k];
                }
                typename T::wword w = weights[b * K + k];
                for (int c = 0; c < C::COLS; ++c) {
                    // one DSP per (column, token): two weights times one activation
                    ap_int<C::W_BITS> w_lo = w.range((2 * c + 1) * C::W_BITS - 1, 2 * c * C::W_BITS);
                    ap_int<C::W_BITS> w_hi =
                        w.range((2 * c + 2) * C::W_BITS - 1, (2 * c + 1) * C::W_BITS);
                    ap_int<27> packed = pack_pair<C::W_BITS>(w_lo, w_hi);
                    for (int r = 0; r < P; ++r) {
                        ap_int<32> lo, hi;
                        packed_multiply(packed, a.v[r], lo, hi);
                        acc[r][2 * c] += lo;
                        acc[r][2 * c + 1] += hi;
                    }
                }
            }
            drain_rest(out, regs, K, pending, "linear.DRAIN_REST");
            // re-quantise into the output registers
            const int valid = (C::N - b * OUTS) < OUTS ? (C::N - b * OUTS) : OUTS;
            for (int o = 0; o < valid; ++o) {
                const int n = b * OUTS + o;
                for (int r = 0; r < P; ++r) {
                    ap_int<32> v = acc[r][o];
                    if (C::HAS_BIAS) v += ap_int<32>(bias[n]);
                    const float y = (float(v) * xs[r]) * w_scale[n];
                    if constexpr (C::OUT_FP32) {
                        regs[o].v[r] = y;
                    } else {
                        regs[o].v[r] = quantize<8>(y, out_inv_scale);
                    }
                }
            }
            pending = valid;
        }
    }
    flush(out, regs, pending, "linear.FLUSH");
}

}  // namespace spatial
