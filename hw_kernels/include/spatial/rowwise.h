// rowwise.h: the fp32 element-wise and row kernels: LayerNorm, GeLU, residual add, the FFN
// splitter, and RMSNorm for LLaMA-family layers (Chen 2024 attention; golden model
// spatialsim.golden.ops).
//
// Config C: P tokens per word, F features (d or d_FFN), EPS for LayerNorm and RMSNorm.
#pragma once

#include "spatial/fmath.h"
#include "spatial/stream.h"
#include "spatial/types.h"

namespace spatial {

// LayerNorm: SUM reads the row accumulating sum and sum of squares (II 4: fp32 add
// latency), NORM writes (x - mean) * rsqrt(var + eps) * gamma + beta.
template <class C>
void layernorm(stream<pack_f32<C::P>>& in, const float* gamma, const float* beta, int packs,
               stream<pack_f32<C::P>>& out) {
    constexpr int P = C::P, F = C::F;
    pack_f32<P> row[F];
    for (int p = 0; p < packs; ++p) {
        float s[P], s2[P], mean[P], inv[P];
        for (int r = 0; r < P; ++r) s[r] = s2[r] = 0.0f;
        SPATIAL_ENTER("layernorm.SUM");
    SUM:
        for (int f = 0; f < F; ++f) {
#pragma HLS PIPELINE II = 4  // the fp32 accumulations' add latency
            SPATIAL_TRIP("layernorm.SUM");
            row[f] = in.read();
            for (int r = 0; r < P; ++r) {
                const float x = row[f].v[r];
                s[r] += x;
                s2[r] += x * x;
            }
        }
        for (int r = 0; r < P; ++r) {
            mean[r] = s[r] / float(F);
            const float var = s2[r] / float(F) - mean[r] * mean[r];
            inv[r] = 1.0f / fsqrt(var + C::EPS);
        }
        SPATIAL_ENTER("layernorm.NORM");
    NORM:
        for (int f = 0; f < F; ++f) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("layernorm.NORM");
            pack_f32<P> y;
            for (int r = 0; r < P; ++r)
                y.v[r] = ((row[f].v[r] - mean[r]) * inv[r]) * gamma[f] + beta[f];
            out.write(y);
        }
    }
}

// RMSNorm (LLaMA's norm): SUM reads the row accumulating the sum of squares (II 4, as
// LayerNorm's), NORM computes x * rsqrt(mean of squares + eps) * gamma; no mean, no beta.
// Same loops and labels as LayerNorm: it is the layernorm kind with norm = rmsnorm.
// `write` takes each normalised word: rmsnorm<> writes it in fp32, rmsnorm_quant<> in int8
// at the next linears' static scale to each of its outputs (quantize = true).
template <class C, class Write>
void rmsnorm_rows(stream<pack_f32<C::P>>& in, const float* gamma, int packs, Write write) {
    constexpr int P = C::P, F = C::F;
    pack_f32<P> row[F];
    for (int p = 0; p < packs; ++p) {
        float s2[P], inv[P];
        for (int r = 0; r < P; ++r) s2[r] = 0.0f;
        SPATIAL_ENTER("layernorm.SUM");
    SUM:
        for (int f = 0; f < F; ++f) {
#pragma HLS PIPELINE II = 4  // the fp32 accumulation's add latency
            SPATIAL_TRIP("layernorm.SUM");
            row[f] = in.read();
            for (int r = 0; r < P; ++r) {
                const float x = row[f].v[r];
                s2[r] += x * x;
            }
        }
        for (int r = 0; r < P; ++r) inv[r] = 1.0f / fsqrt(s2[r] / float(F) + C::EPS);
        SPATIAL_ENTER("layernorm.NORM");
    NORM:
        for (int f = 0; f < F; ++f) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("layernorm.NORM");
            pack_f32<P> y;
            for (int r = 0; r < P; ++r) y.v[r] = (row[f].v[r] * inv[r]) * gamma[f];
            write(y);
        }
    }
}

template <class C>
void rmsnorm(stream<pack_f32<C::P>>& in, const float* gamma, int packs,
             stream<pack_f32<C::P>>& out) {
    rmsnorm_rows<C>(in, gamma, packs, [&](const pack_f32<C::P>& y) { out.write(y); });
}

template <class C, int NOUT>
void rmsnorm_quant(stream<pack_f32<C::P>>& in, const float* gamma, float out_inv_scale,
                   int packs, stream<pack_i8<C::P>> out[NOUT]) {
    rmsnorm_rows<C>(in, gamma, packs, [&](const pack_f32<C::P>& y) {
        pack_i8<C::P> q;
        for (int r = 0; r < C::P; ++r) q.v[r] = quantize<8>(y.v[r], out_inv_scale);
        for (int o = 0; o < NOUT; ++o) out[o].write(q);
    });
}

// The norm a layer configuration asks for: RMSNorm when L::RMSNORM is true (exported for
// LLaMA-family designs), LayerNorm otherwise (and when L does not say).
template <class L, class = void>
struct uses_rmsnorm {
    static constexpr bool value = false;
};
template <class L>
struct uses_rmsnorm<L, decltype(void(L::RMSNORM))> {
    static constexpr bool value = L::RMSNORM;
};

template <class C, bool RMS>
void rownorm(stream<pack_f32<C::P>>& in, const float* gamma, const float* beta, int packs,
             stream<pack_f32<C::P>>& out) {
    if (RMS)
        rmsnorm<C>(in, gamma, packs, out);
    else
        layernorm<C>(in, gamma, beta, packs, out);
}

// GeLU, tanh approximation (max 4.7e-4 from the erf form; see spatialsim.golden.ops.gelu),
// then int8 at the static scale of FFN2's input.
template <class C>
void gelu(stream<pack_f32<C::P>>& in, float out_inv_scale, int packs,
          stream<pack_i8<C::P>>& out) {
    constexpr int P = C::P;
    const float k0 = 0.7978845608028654f, k1 = 0.044715f;  // sqrt(2 / pi), the cubic term
    for (int p = 0; p < packs; ++p) {
        SPATIAL_ENTER("activation.ACT");
    ACT:
        for (int f = 0; f < C::F; ++f) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("activation.ACT");
            pack_f32<P> x = in.read();
            pack_i8<P> y;
            for (int r = 0; r < P; ++r) {
                const float v = x.v[r];
                const float inner = k0 * (v + k1 * v * v * v);
                y.v[r] = quantize<8>(0.5f * v * (1.0f + ftanh(inner)), out_inv_scale);
            }
            out.write(y);
        }
    }
}

// SwiGLU for LLaMA-style FFNs: the fused gate/up linear writes gate_i and up_i as adjacent
// words; out_i = silu(gate_i) * up_i = gate_i / (1 + exp(-gate_i)) * up_i, then int8 at
// FFN2's input scale. Two input words per output: II 2.
template <class C>
void silu_mul(stream<pack_f32<C::P>>& in, float out_inv_scale, int packs,
              stream<pack_i8<C::P>>& out) {
    constexpr int P = C::P;
    for (int p = 0; p < packs; ++p) {
        SPATIAL_ENTER("activation.ACT");
    ACT:
        for (int f = 0; f < C::F; ++f) {
#pragma HLS PIPELINE II = 2  // reads the gate and the up word from one stream
            SPATIAL_TRIP("activation.ACT");
            pack_f32<P> g = in.read(), u = in.read();
            pack_i8<P> y;
            for (int r = 0; r < P; ++r) {
                const float gv = g.v[r];
                y.v[r] = quantize<8>((gv / (1.0f + fexp(-gv))) * u.v[r], out_inv_scale);
            }
            out.write(y);
        }
    }
}

// SwiGLU with separate gate and up linears (the chen2024-llama templates): gate and up
// arrive on their own streams, read in the same cycle (II 1); the same arithmetic.
template <class C>
void silu_mul_split(stream<pack_f32<C::P>>& gate, stream<pack_f32<C::P>>& up,
                    float out_inv_scale, int packs, stream<pack_i8<C::P>>& out) {
    constexpr int P = C::P;
    for (int p = 0; p < packs; ++p) {
        SPATIAL_ENTER("activation.ACT");
    ACT:
        for (int f = 0; f < C::F; ++f) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("activation.ACT");
            pack_f32<P> g = gate.read(), u = up.read();
            pack_i8<P> y;
            for (int r = 0; r < P; ++r) {
                const float gv = g.v[r];
                y.v[r] = quantize<8>((gv / (1.0f + fexp(-gv))) * u.v[r], out_inv_scale);
            }
            out.write(y);
        }
    }
}

// Residual add: a (the kernel's output) + b (the skip path).
template <class C>
void residual(stream<pack_f32<C::P>>& a, stream<pack_f32<C::P>>& b, int packs,
              stream<pack_f32<C::P>>& out) {
    constexpr int P = C::P;
    for (int p = 0; p < packs; ++p) {
        SPATIAL_ENTER("residual.ADD");
    ADD:
        for (int f = 0; f < C::F; ++f) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("residual.ADD");
            pack_f32<P> x = a.read(), y = b.read(), z;
            for (int r = 0; r < P; ++r) z.v[r] = x.v[r] + y.v[r];
            out.write(z);
        }
    }
}

// Fork: the splitter kind with quantize = false, a row to two fp32 consumers (the
// pre-norm layer's FFN norm and the bypass to residual 1).
template <class C>
void fork_fp32(stream<pack_f32<C::P>>& in, int packs, stream<pack_f32<C::P>>& a,
               stream<pack_f32<C::P>>& b) {
    for (int p = 0; p < packs; ++p) {
        SPATIAL_ENTER("splitter.SPLIT");
    SPLIT:
        for (int f = 0; f < C::F; ++f) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("splitter.SPLIT");
            pack_f32<C::P> x = in.read();
            a.write(x);
            b.write(x);
        }
    }
}

// Splitter: the LayerNorm 0 row goes to FFN1 as int8 (static scale) and, in fp32, into the
// bypass FIFO that must hold the whole activation until residual 1 needs it.
template <class C>
void splitter(stream<pack_f32<C::P>>& in, float out_inv_scale, int packs,
              stream<pack_i8<C::P>>& to_ffn, stream<pack_f32<C::P>>& bypass) {
    constexpr int P = C::P;
    for (int p = 0; p < packs; ++p) {
        SPATIAL_ENTER("splitter.SPLIT");
    SPLIT:
        for (int f = 0; f < C::F; ++f) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("splitter.SPLIT");
            pack_f32<P> x = in.read();
            pack_i8<P> q;
            for (int r = 0; r < P; ++r) q.v[r] = quantize<8>(x.v[r], out_inv_scale);
            to_ffn.write(q);
            bypass.write(x);
        }
    }
}

}  // namespace spatial
