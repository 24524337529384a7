// gemv.h: decode GEMV engines (chen2024.md 3.3).
//
// Config C: K, N; ENGINES engines of PES PEs, PACK (2) int8 weights per PE, so one engine
// consumes one (PES * PACK * 8)-bit weight beat per cycle (512 bits for 32 PEs); OUT_FP32;
// HAS_BIAS; TOKEN_SCALES as in linear.h. Each engine reads its own port: engine e's beat for
// pass q at reduction index k is weights[e][q * K + k]; it produces outputs
// (q * ENGINES + e) * PES * PACK + lane. Golden model: linear_acc / dequantize, one token.
//
// Two loop orders (C::COLUMN; spatialsim's gemv kind, parameter `order`):
// - row (COLUMN = false): per token the kernel buffers the K-long input vector (BUFFER, one
//   element per cycle), then each pass broadcasts it against ENGINES beats per cycle (MAC).
//   A pass's outputs drain from output registers during the next pass (FLUSH after the
//   last). Weights: engine e's beat for pass q at reduction index k is weights[e][q*K + k].
// - column (COLUMN = true, input-stationary): each input element, read as it arrives,
//   meets its weight column over PASSES cycles and updates every accumulator (STREAM,
//   K * PASSES iterations); then every output is re-quantised and written (WRITE, N).
//   Weights are stored in the order they are consumed: weights[e][k*PASSES + q].
// Up to four engines, each with its own weight pointer (its own m_axi port and HBM
// channel); unused pointers are ignored.
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
    // index of engine e's beat for pass q at reduction index k in its port
    static constexpr int beat_index(int q, int k) { return C::COLUMN ? k * PASSES + q : q * C::K + k; }
};

template <class C>
float gemv_output(ap_int<32> v, int n, float xs, const float* w_scale, const ap_int<16>* bias) {
    if (C::HAS_BIAS) v += ap_int<32>(bias[n]);
    return (float(v) * xs) * w_scale[n];
}

template <class C>
void gemv_column(stream<pack_i8<1>>& in, stream<pack_f32<1>>& scale_in,
                 const typename gemv_traits<C>::beat* const ports[4], const float* w_scale,
                 const ap_int<16>* bias, float x_scale, float out_inv_scale,
                 stream<typename gemv_traits<C>::out_t>& out, int tokens) {
    using T = gemv_traits<C>;
    constexpr int OUTS = T::OUTS, PASSES = T::PASSES;
    ap_int<32> acc[PASSES][OUTS];
#pragma HLS ARRAY_PARTITION variable = acc dim = 2 complete
    for (int t = 0; t < tokens; ++t) {
        const float xs = C::TOKEN_SCALES ? scale_in.read().v[0] : x_scale;
        for (int q = 0; q < PASSES; ++q)
            for (int o = 0; o < OUTS; ++o) acc[q][o] = 0;
        ap_int<8> x = 0;
        SPATIAL_ENTER("gemv.STREAM");
    STREAM:
        for (int i = 0; i < C::K * PASSES; ++i) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("gemv.STREAM");
            const int k = i / PASSES, q = i % PASSES;
            if (q == 0) x = in.read().v[0];
            for (int e = 0; e < C::ENGINES; ++e) {
                typename T::beat w = ports[e][T::beat_index(q, k)];
                for (int j = 0; j < C::PES; ++j) {
                    ap_int<8> w_lo = w.range(16 * j + 7, 16 * j);
                    ap_int<8> w_hi = w.range(16 * j + 15, 16 * j + 8);
                    ap_int<32> lo, hi;
                    packed_multiply(pack_pair<8>(w_lo, w_hi), x, lo, hi);
                    acc[q][e * T::OUTS_E + 2 * j] += lo;
                    acc[q][e * T::OUTS_E + 2 * j + 1] += hi;
                }
            }
        }
        SPATIAL_ENTER("gemv.WRITE");
    WRITE:
        for (int n = 0; n < C::N; ++n) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("gemv.WRITE");
            const float y = gemv_output<C>(acc[n / OUTS][n % OUTS], n, xs, w_scale, bias);
            typename T::out_t word;
            if constexpr (C::OUT_FP32) word.v[0] = y;
            else word.v[0] = quantize<8>(y, out_inv_scale);
            out.write(word);
        }
    }
}

template <class C>
void gemv(stream<pack_i8<1>>& in, stream<pack_f32<1>>& scale_in,
          const typename gemv_traits<C>::beat* w0, const typename gemv_traits<C>::beat* w1,
          const typename gemv_traits<C>::beat* w2, const typename gemv_traits<C>::beat* w3,
          const float* w_scale,
          const ap_int<16>* bias, float x_scale, float out_inv_scale,
          stream<typename gemv_traits<C>::out_t>& out, int tokens) {
    using T = gemv_traits<C>;
    if constexpr (C::COLUMN) {
        const typename T::beat* const ports[4] = {w0, w1, w2, w3};
        gemv_column<C>(in, scale_in, ports, w_scale, bias, x_scale, out_inv_scale, out, tokens);
        return;
    }
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
                    typename T::beat w = port[T::beat_index(q, k)];
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
                const float y = gemv_output<C>(acc[o], q * OUTS + o, xs, w_scale, bias);
                if constexpr (C::OUT_FP32) regs[o].v[0] = y;
                else regs[o].v[0] = quantize<8>(y, out_inv_scale);
            }
            pending = valid;
        }
    }
    flush(out, regs, pending, "gemv.FLUSH");
}

// One weight pointer per engine (its own m_axi port and HBM channel), up to four.
template <class C>
struct EnginePorts {
    const typename gemv_traits<C>::beat* e[4] = {nullptr, nullptr, nullptr, nullptr};
};

}  // namespace spatial
