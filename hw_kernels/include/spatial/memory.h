// memory.h: m_axi loaders and writers of a layer's activations (chen2024.md 3: R1's input
// loaders, R3's output writer).
//
// Activations in memory are token-major fp32, x[t * F + f], with one fp32 scale per token,
// max|x| / 127 over the row: the writer of the previous layer computes it as it writes the
// row, so the next layer's quantising loaders need one pass (LOAD). A quantising loader
// sends int8 words and, first, one word of the pack's token scales for the linears.
// Config C: P, F. Golden model: spatialsim.golden.quant.quantize_per_token.
#pragma once

#include "spatial/stream.h"
#include "spatial/types.h"

namespace spatial {

template <class C>
void load_fp32(const float* x, int tokens, stream<pack_f32<C::P>>& out) {
    constexpr int P = C::P, F = C::F;
    const int packs = (tokens + P - 1) / P;
    for (int p = 0; p < packs; ++p) {
        SPATIAL_ENTER("loader.LOAD");
    LOAD:
        for (int f = 0; f < F; ++f) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("loader.LOAD");
            pack_f32<P> w;
            for (int r = 0; r < P; ++r) w.v[r] = p * P + r < tokens ? x[(p * P + r) * F + f] : 0.0f;
            out.write(w);
        }
    }
}

// Quantising loader with NOUT outputs (Q's loader feeds one linear, K/V's feeds two).
template <class C, int NOUT>
void load_int8(const float* x, const float* scale, int tokens, stream<pack_i8<C::P>> out[NOUT],
               stream<pack_f32<C::P>> scales[NOUT]) {
    constexpr int P = C::P, F = C::F;
    const int packs = (tokens + P - 1) / P;
    for (int p = 0; p < packs; ++p) {
        pack_f32<P> s, inv;
        for (int r = 0; r < P; ++r) {
            s.v[r] = p * P + r < tokens ? scale[p * P + r] : 1.0f;
            inv.v[r] = 1.0f / s.v[r];
        }
        for (int o = 0; o < NOUT; ++o) scales[o].write(s);
        SPATIAL_ENTER("loader.LOAD");
    LOAD:
        for (int f = 0; f < F; ++f) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("loader.LOAD");
            pack_i8<P> w;
            for (int r = 0; r < P; ++r)
                w.v[r] = p * P + r < tokens ? quantize<8>(x[(p * P + r) * F + f], inv.v[r])
                                            : ap_int<8>(0);
            for (int o = 0; o < NOUT; ++o) out[o].write(w);
        }
    }
}

// Writer: fp32 rows to memory, and each token's max|y| / 127 for the next layer's loaders.
template <class C>
void store_fp32(stream<pack_f32<C::P>>& in, int tokens, float* y, float* scale) {
    constexpr int P = C::P, F = C::F;
    const int packs = (tokens + P - 1) / P;
    for (int p = 0; p < packs; ++p) {
        float m[P];
        for (int r = 0; r < P; ++r) m[r] = 0.0f;
        SPATIAL_ENTER("writer.STORE");
    STORE:
        for (int f = 0; f < F; ++f) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("writer.STORE");
            pack_f32<P> w = in.read();
            for (int r = 0; r < P; ++r) {
                if (p * P + r < tokens) y[(p * P + r) * F + f] = w.v[r];
                const float a = w.v[r] < 0 ? -w.v[r] : w.v[r];
                m[r] = a > m[r] ? a : m[r];
            }
        }
        for (int r = 0; r < P; ++r)
            if (p * P + r < tokens) scale[p * P + r] = m[r] > 0 ? m[r] / 127.0f : 1.0f;
    }
}

}  // namespace spatial
