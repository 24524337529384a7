// attention.h: Q.K^T, the causal mask, softmax and softmax.V (chen2024.md 3.2), prefill
// arrays and the decode engines.
//
// Prefill arrays, config C: P tokens per pack (array rows), HEADS, HD (head_dim), COLS and
// PACK (outputs per block OUTS = COLS * PACK; with PACK = 2 two int8 K or V values share a
// DSP like the linears' weights), MAXL, MAXPACKS. They start when the K (V) buffer and the
// Q buffer are complete (`*_done` tokens: the K/V synchronisation point), and compute every
// key of a row; the mask then hides future keys, as the chen2024 arrays do.
//
// Decode engines, config C: HEADS, HD, HP heads side by side, LANES multiply lanes per head
// (a cached row costs ceil(HD / LANES) cycles), MAXL. Words carry one token (P = 1).
//
// Arithmetic (golden model spatialsim.golden.ops): score = acc * qk_scale; masked = -inf;
// softmax writes round(127 * exp(x - max)) and the row's 1/sum (as it computes them, or,
// with C::BUFFERED, from a row buffer two keys per cycle after the row); softmax.V writes
// round(acc * (1/sum) * (1/127)), the context at V's scale.
#pragma once

#include "spatial/drain.h"
#include "spatial/fmath.h"
#include "spatial/packing.h"
#include "spatial/stream.h"
#include "spatial/types.h"

namespace spatial {

// ---- prefill arrays ---------------------------------------------------------------------

template <class C>
void qk_matmul(pack_i8<C::P> qbuf[C::MAXPACKS][C::HEADS * C::HD], stream<bool>& q_done,
               ap_int<8> kbuf[C::MAXL][KvOf<C>::F], stream<bool>& k_done, int packs,
               int keys, float qk_scale, stream<pack_f32<C::P>>& out) {
    constexpr int P = C::P, HD = C::HD, OUTS = C::COLS * C::PACK, G = KvOf<C>::GROUP;
    q_done.read();
    k_done.read();
    const int blocks = (keys + OUTS - 1) / OUTS;
    ap_int<32> acc[P][OUTS];
    pack_f32<P> regs[OUTS];
    int pending = 0;
    for (int p = 0; p < packs; ++p)
        for (int h = 0; h < C::HEADS; ++h)
            for (int b = 0; b < blocks; ++b) {
                for (int r = 0; r < P; ++r)
                    for (int o = 0; o < OUTS; ++o) acc[r][o] = 0;
                SPATIAL_ENTER("attn_matmul.MAC");
            MAC:
                for (int k = 0; k < HD; ++k) {
#pragma HLS PIPELINE II = 1
                    SPATIAL_TRIP("attn_matmul.MAC");
                    if (k < pending) out.write(regs[k]);
                    const pack_i8<P> a = qbuf[p][h * HD + k];
                    for (int o = 0; o < OUTS; o += C::PACK) {
                        const int j = b * OUTS + o;
                        ap_int<8> k0 = j < keys ? kbuf[j][(h / G) * HD + k] : ap_int<8>(0);
                        ap_int<8> k1 = (C::PACK == 2 && j + 1 < keys) ? kbuf[j + 1][(h / G) * HD + k]
                                                                        : ap_int<8>(0);
                        for (int r = 0; r < P; ++r) {
                            ap_int<32> lo, hi;
                            packed_multiply(pack_pair<8>(k0, k1), a.v[r], lo, hi);
                            acc[r][o] += lo;
                            if (C::PACK == 2) acc[r][o + 1] += hi;
                        }
                    }
                }
                drain_rest(out, regs, HD, pending, "attn_matmul.DRAIN_REST");
                const int valid = keys - b * OUTS < OUTS ? keys - b * OUTS : OUTS;
                for (int o = 0; o < valid; ++o)
                    for (int r = 0; r < P; ++r) regs[o].v[r] = float(acc[r][o]) * qk_scale;
                pending = valid;
            }
    flush(out, regs, pending, "attn_matmul.FLUSH");
}

template <class C>
void mask(stream<pack_f32<C::P>>& in, int packs, int keys, int first_position, bool causal,
          stream<pack_f32<C::P>>& out) {
    constexpr int P = C::P;
    const float neg_inf = -__builtin_inff();
    for (int p = 0; p < packs; ++p)
        for (int h = 0; h < C::HEADS; h += C::HP) {
            SPATIAL_ENTER("mask.MASK");
        MASK:
            for (int j = 0; j < keys; ++j) {
#pragma HLS PIPELINE II = 1
                SPATIAL_TRIP("mask.MASK");
                for (int g = 0; g < C::HP && h + g < C::HEADS; ++g) {  // heads side by side
                    pack_f32<P> w = in.read();
                    for (int r = 0; r < P; ++r)
                        if (causal && j > first_position + p * P + r) w.v[r] = neg_inf;
                    out.write(w);
                }
            }
        }
}

template <class C>
void softmax(stream<pack_f32<C::P>>& in, int packs, int keys, stream<pack_i8<C::P>>& out,
             stream<pack_f32<C::P>>& inv_sum) {
    constexpr int P = C::P, HP = C::HP;
    pack_f32<P> row[HP][C::MAXL];
    pack_i8<P> probs[HP][C::MAXL];
    for (int p = 0; p < packs; ++p)
        for (int h = 0; h < C::HEADS; h += HP) {
            const int hp = h + HP <= C::HEADS ? HP : C::HEADS - h;
            float m[HP][P], s[HP][P];
            for (int g = 0; g < hp; ++g)
                for (int r = 0; r < P; ++r) {
                    m[g][r] = -__builtin_inff();
                    s[g][r] = 0.0f;
                }
            SPATIAL_ENTER("softmax.MAX");
        MAX:
            for (int j = 0; j < keys; ++j) {
#pragma HLS PIPELINE II = 1
                SPATIAL_TRIP("softmax.MAX");
                for (int g = 0; g < hp; ++g) {
                    row[g][j] = in.read();
                    for (int r = 0; r < P; ++r) m[g][r] = row[g][j].v[r] > m[g][r] ? row[g][j].v[r] : m[g][r];
                }
            }
            SPATIAL_ENTER("softmax.EXP_SUM");
        EXP_SUM:
            for (int j = 0; j < keys; ++j) {
#pragma HLS PIPELINE II = 4  // the fp32 sum's add latency bounds the II (chen2024.md 3.2)
                SPATIAL_TRIP("softmax.EXP_SUM");
                for (int g = 0; g < hp; ++g) {
                    pack_i8<P> q;
                    for (int r = 0; r < P; ++r) {
                        const float e = fexp(row[g][j].v[r] - m[g][r]);
                        s[g][r] += e;
                        q.v[r] = quantize<8>(e, 127.0f);
                    }
                    if (C::BUFFERED) probs[g][j] = q;
                    else out.write(q);
                }
            }
            if (C::BUFFERED) {
                SPATIAL_ENTER("softmax.OUT");
            OUT:
                for (int j = 0; j < keys; j += 2) {
#pragma HLS PIPELINE II = 1
                    SPATIAL_TRIP("softmax.OUT");
                    for (int g = 0; g < hp; ++g) {
                        out.write(probs[g][j]);
                        if (j + 1 < keys) out.write(probs[g][j + 1]);
                    }
                }
            }
            for (int g = 0; g < hp; ++g) {
                pack_f32<P> w;
                for (int r = 0; r < P; ++r) w.v[r] = 1.0f / s[g][r];
                inv_sum.write(w);
            }
        }
}

template <class C>
void sv_matmul(stream<pack_i8<C::P>>& probs, stream<pack_f32<C::P>>& inv_sum,
               ap_int<8> vbuf[C::MAXL][KvOf<C>::F], stream<bool>& v_done, int packs,
               int keys, stream<pack_i8<C::P>>& out) {
    constexpr int P = C::P, HD = C::HD, OUTS = C::COLS * C::PACK, G = KvOf<C>::GROUP;
    constexpr int BLOCKS = (HD + OUTS - 1) / OUTS;
    v_done.read();
    pack_i8<P> prow[C::MAXL];
    ap_int<32> acc[P][OUTS];
    pack_i8<P> regs[OUTS];
    int pending = 0;
    for (int p = 0; p < packs; ++p)
        for (int h = 0; h < C::HEADS; ++h) {
            float inv[P];
            for (int b = 0; b < BLOCKS; ++b) {
                for (int r = 0; r < P; ++r)
                    for (int o = 0; o < OUTS; ++o) acc[r][o] = 0;
                SPATIAL_ENTER("attn_matmul.MAC");
            MAC:
                for (int j = 0; j < keys; ++j) {
#pragma HLS PIPELINE II = 1
                    SPATIAL_TRIP("attn_matmul.MAC");
                    if (j < pending) out.write(regs[j]);
                    if (b == 0) prow[j] = probs.read();  // block 0 streams the row in
                    const pack_i8<P> a = prow[j];
                    for (int o = 0; o < OUTS; o += C::PACK) {
                        const int c = b * OUTS + o;
                        ap_int<8> v0 = c < HD ? vbuf[j][(h / G) * HD + c] : ap_int<8>(0);
                        ap_int<8> v1 = (C::PACK == 2 && c + 1 < HD) ? vbuf[j][(h / G) * HD + c + 1]
                                                                     : ap_int<8>(0);
                        for (int r = 0; r < P; ++r) {
                            ap_int<32> lo, hi;
                            packed_multiply(pack_pair<8>(v0, v1), a.v[r], lo, hi);
                            acc[r][o] += lo;
                            if (C::PACK == 2) acc[r][o + 1] += hi;
                        }
                    }
                }
                if (b == 0) {
                    pack_f32<P> w = inv_sum.read();
                    for (int r = 0; r < P; ++r) inv[r] = w.v[r];
                }
                drain_rest(out, regs, keys, pending, "attn_matmul.DRAIN_REST");
                const int valid = HD - b * OUTS < OUTS ? HD - b * OUTS : OUTS;
                for (int o = 0; o < valid; ++o)
                    for (int r = 0; r < P; ++r)
                        regs[o].v[r] = quantize<8>(float(acc[r][o]) * inv[r], 1.0f / 127.0f);
                pending = valid;
            }
        }
    flush(out, regs, pending, "attn_matmul.FLUSH");
}

// ---- decode engines ---------------------------------------------------------------------

template <class C>
void qk_gemv(pack_i8<1> qbuf[C::MAXPACKS][C::HEADS * C::HD], stream<bool>& q_done,
             ap_int<8> kbuf[C::MAXL][KvOf<C>::F], stream<bool>& k_done, int keys,
             float qk_scale, stream<pack_f32<1>>& out) {
    constexpr int HD = C::HD, HP = C::HP, G = KvOf<C>::GROUP;
    q_done.read();
    k_done.read();
    for (int h = 0; h < C::HEADS; h += HP) {
        const int hp = h + HP <= C::HEADS ? HP : C::HEADS - h;
        ap_int<8> q[HP][HD];
        SPATIAL_ENTER("attn_gemv.LOAD");
    LOAD:
        for (int c = 0; c < HD; ++c) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("attn_gemv.LOAD");
            for (int g = 0; g < hp; ++g) q[g][c] = qbuf[0][(h + g) * HD + c].v[0];
        }
        SPATIAL_ENTER("attn_gemv.ROW");
    ROW:
        for (int j = 0; j < keys; ++j) {
            // one cached K row per ceil(HD / LANES) cycles, HP heads side by side
            SPATIAL_TRIP("attn_gemv.ROW");
            for (int g = 0; g < hp; ++g) {
                ap_int<32> acc = 0;
                for (int c = 0; c < HD; ++c) acc += q[g][c] * kbuf[j][((h + g) / G) * HD + c];
                pack_f32<1> w;
                w.v[0] = float(acc) * qk_scale;
                out.write(w);
            }
        }
    }
}

template <class C>
void sv_gemv(stream<pack_i8<1>>& probs, stream<pack_f32<1>>& inv_sum,
             ap_int<8> vbuf[C::MAXL][KvOf<C>::F], stream<bool>& v_done, int keys,
             stream<pack_i8<1>>& out) {
    constexpr int HD = C::HD, HP = C::HP, G = KvOf<C>::GROUP;
    v_done.read();
    ap_int<8> p[HP][C::MAXL];
    for (int h = 0; h < C::HEADS; h += HP) {
        const int hp = h + HP <= C::HEADS ? HP : C::HEADS - h;
        ap_int<32> acc[HP][HD];
        for (int g = 0; g < hp; ++g)
            for (int c = 0; c < HD; ++c) acc[g][c] = 0;
        SPATIAL_ENTER("attn_gemv.LOAD");
    LOAD:
        for (int j = 0; j < keys; ++j) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("attn_gemv.LOAD");
            for (int g = 0; g < hp; ++g) p[g][j] = probs.read().v[0];
        }
        SPATIAL_ENTER("attn_gemv.ROW");
    ROW:
        for (int j = 0; j < keys; ++j) {
            SPATIAL_TRIP("attn_gemv.ROW");
            for (int g = 0; g < hp; ++g)
                for (int c = 0; c < HD; ++c) acc[g][c] += p[g][j] * vbuf[j][((h + g) / G) * HD + c];
        }
        for (int g = 0; g < hp; ++g) {
            const float inv = inv_sum.read().v[0];
            for (int c = 0; c < HD; ++c) {
                pack_i8<1> w;
                w.v[0] = quantize<8>(float(acc[g][c]) * inv, 1.0f / 127.0f);
                out.write(w);
            }
        }
    }
}

}  // namespace spatial
