// gemv.h: decode GEMV engines (chen2024.md 3.3).
//
// Config C: K, N; ENGINES engines of PES PEs, PACK (2) int8 weights per PE, so one engine
// consumes one (PES * PACK * 8)-bit weight beat per cycle (512 bits for 32 PEs); OUT_FP32;
// HAS_BIAS; TOKEN_SCALES as in linear.h. Each engine reads its own port: engine e's beat for
// pass q at reduction index k is weights[e][q * K + k]; it produces outputs
// (q * ENGINES + e) * PES * PACK + lane. Golden model: linear_acc / dequantize, one token.
//
// Per token the kernel buffers the K-long input vector (BUFFER, one element per cycle),
// then each pass broadcasts it against ENGINES beats per cycle (MAC). A pass's outputs
// drain from output registers during the next pass (FLUSH after the last). Up to four
// engines, each with its own weight pointer (its own m_axi port and HBM channel); unused
// pointers are ignored.
#pragma once

#include <type_traits>

#include "spatial/drain.h"
#include "spatial/packing.h"
#include "spatial/stream.h"
#include "spatial/types.h"

namespace spatial {

template <class C>
struct gemv_traits {
    static constexpr int OUTS_E = C::PES * C::PACK;        // outputs per engine per pass
    static constexpr int OUTS = C::ENGINES * OUTS_E;       // outputs per pass
    static constexpr int PASSES = (C::N + OUTS - 1) / OUTS;
    using beat = ap_uint<OUTS_E * 8>;
    using out_t = typename std::conditional<C::OUT_FP32, pack_f32<1>, pack_i8<1>>::type;
    static_assert(C::PACK == 2, "each PE holds a pair of int8 weights");
    static_assert(C::ENGINES >= 1 && C::ENGINES <= 4, "one to four engines");
};

template <class C>
void gemv(stream<pack_i8<1>>& in, stream<pack_f32<1>>& scale_in,
          const typename gemv_traits<C>::beat* w0, const typename gemv_traits<C>::beat* w1,
          const typename gemv_traits<C>::beat* w2, const typename gemv_traits<C>::beat* w3,
          const float* w_scale,
          const ap_int<16>* bias, float x_scale, float out_inv_scale,
          stream<typename gemv_traits<C>::out_t>& out, int tokens) {
    using T = gemv_traits<C>;
    constexpr int K = C::K, OUTS = T::OUTS;
    ap_int<8> x[K];
    ap_int<32> acc[OUTS];
#pragma HLS ARRAY_PARTITION variable = acc complete
    typename T::out_t regs[OUTS];
    int pending = 0;
    for (int t = 0; t < tokens; ++t) {
        const float xs = C::TOKEN_SCALES ? scale_in.read().v[0] : x_scale;
        SPATIAL_ENTER("gemv.BUFFER");
    BUFFER:
        for (int k = 0; k < K; ++k) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("gemv.BUFFER");
            x[k] = in.read().v[0];
        }
        for (int q = 0; q < T::PASSES; ++q) {
            for (int o = 0; o < OUTS; ++o) acc[o] = 0;
            SPATIAL_ENTER("gemv.MAC");
        MAC:
            for (int k = 0; k < K; ++k) {
#pragma HLS PIPELINE II = 1
                SPATIAL_TRIP("gemv.MAC");
                if (k < pending) out.write(regs[k]);
                for (int e = 0; e < C::ENGINES; ++e) {
                    // each engine reads its own port
                    const typename T::beat* port = e == 0 ? w0 : e == 1 ? w1 : e == 2 ? w2 : w3;
                    typename T::beat w = port[q * K + k];
                    for (int j = 0; j < C::PES; ++j) {
                        ap_int<8> w_lo = w.range(16 * j + 7, 16 * j);
                        ap_int<8> w_hi = w.range(16 * j + 15, 16 * j + 8);
                        ap_int<32> lo, hi;
                        packed_multiply(pack_pair<8>(w_lo, w_hi), x[k], lo, hi);
                        acc[e * T::OUTS_E + 2 * j] += lo;
                        acc[e * T::OUTS_E + 2 * j + 1] += hi;
                    }
                }
            }
            drain_rest(out, regs, K, pending, "gemv.DRAIN_REST");
            const int valid = (C::N - q * OUTS) < OUTS ? (C::N - q * OUTS) : OUTS;
            for (int o = 0; o < valid; ++o) {
                const int n = q * OUTS + o;
                ap_int<32> v = acc[o];
                if (C::HAS_BIAS) v += ap_int<32>(bias[n]);
                const float y = (float(v) * xs) * w_scale[n];
                if constexpr (C::OUT_FP32) regs[o].v[0] = y;
                else regs[o].v[0] = quantize<8>(y, out_inv_scale);
            }
            pending = valid;
        }
    }
    flush(out, regs, pending, "gemv.FLUSH");
}

}  // namespace spatial
