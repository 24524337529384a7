// regions.h: the three region kernels of one transformer layer (chen2024.md 3), one per
// SLR, and the whole layer for C simulation.
//
//   R1 (SLR0): input loaders, Q / K / V linears
//   R2 (SLR1): K / V writers, Q buffer, Q.K^T, mask, softmax, softmax.V, output projection,
//              residual 0, LayerNorm 0
//   R3 (SLR2): splitter, FFN1, GeLU, FFN2, residual 1 (through the bypass), LayerNorm 1,
//              output writer
//
// L is the layer configuration that `spatialsim export-hls` writes from the design graph
// (sizes, array shapes and a DEPTH_<fifo> constant for every FIFO of the graph). The region
// links (q, k, v, the skip path, LayerNorm 0's output) are AXI streams joined by v++
// stream_connect (the exported connectivity file gives their depths).
#pragma once

#include "spatial/attention.h"
#include "spatial/dataflow.h"
#include "spatial/kv.h"
#include "spatial/linear.h"
#include "spatial/memory.h"
#include "spatial/rowwise.h"

namespace spatial {

template <class L, int K_, int N_, int COLS_, bool FP32_, bool TOKEN_SCALES_>
struct LinearCfg {
    static constexpr int P = L::P, K = K_, N = N_, COLS = COLS_, PACK = 2, W_BITS = L::W_BITS;
    static constexpr bool HAS_BIAS = L::BIAS, OUT_FP32 = FP32_, TOKEN_SCALES = TOKEN_SCALES_;
};

template <class L>
struct AttnCfg {
    static constexpr int P = L::P, HEADS = L::H, HD = L::HD, COLS = L::ATTN_COLS,
                         PACK = L::ATTN_PACK, MAXL = L::MAXL, MAXPACKS = L::MAXPACKS, HP = 1;
    static constexpr bool BUFFERED = L::SOFTMAX_BUFFERED;
};

template <class L, int F_>
struct RowCfg {
    static constexpr int P = L::P, F = F_;
    static constexpr float EPS = 1e-5f;
};

template <class L>
struct KvCfg {
    static constexpr int P = L::P, F = L::D, MAXL = L::MAXL, MAXPACKS = L::MAXPACKS;
};

template <class L>
using Qkv = LinearCfg<L, L::D, L::D, L::QKVO_COLS, false, true>;
template <class L>
using OutProj = LinearCfg<L, L::D, L::D, L::QKVO_COLS, true, false>;
template <class L>
using Ffn1 = LinearCfg<L, L::D, L::FFN, L::FFN_COLS, true, false>;
template <class L>
using Ffn2 = LinearCfg<L, L::FFN, L::D, L::FFN_COLS, true, false>;

// Weights, scales and the static quantisation constants of one layer.
template <class L>
struct LayerWeights {
    const typename linear_traits<Qkv<L>>::wword *wq, *wk, *wv;
    const typename linear_traits<OutProj<L>>::wword* wo;
    const typename linear_traits<Ffn1<L>>::wword* w1;
    const typename linear_traits<Ffn2<L>>::wword* w2;
    const float *sq, *sk, *sv, *so, *s1, *s2;          // per-output-channel weight scales
    const ap_int<16> *bq, *bk, *bv, *bo, *b1, *b2;     // biases (accumulator units)
    const float *ln0_gamma, *ln0_beta, *ln1_gamma, *ln1_beta;
    float q_inv, k_inv, v_inv;      // 1 / static scales of Q, K, V
    float qk_scale;                 // s_q * s_k / sqrt(head_dim)
    float v_scale;                  // the context's scale (V's)
    float f1_scale, f1_inv;         // FFN1 input scale and its inverse
    float f2_scale, f2_inv;         // FFN2 input scale and its inverse
};

// The per-channel scales, biases and LayerNorm parameters of a layer travel in three
// buffers (one m_axi port each); these are their offsets.
template <class L>
struct ParamLayout {
    // scales: sq, sk, sv, so (D each), s1 (FFN), s2 (D); norms: ln0 gamma, beta, ln1 gamma,
    // beta (D each); biases like scales.
    static constexpr int SQ = 0, SK = L::D, SV = 2 * L::D, SO = 3 * L::D, S1 = 4 * L::D,
                         S2 = 4 * L::D + L::FFN, SCALES = 5 * L::D + L::FFN;
    static constexpr int G0 = 0, B0 = L::D, G1 = 2 * L::D, B1 = 3 * L::D, NORMS = 4 * L::D;
};

// Static quantisation constants, in the order of the `consts` buffer: 1/s_q, 1/s_k, 1/s_v,
// qk_scale, s_v, s_f1, 1/s_f1, s_f2, 1/s_f2.
constexpr int NUM_CONSTS = 9;

template <class L>
LayerWeights<L> bind_weights(const void* wq, const void* wk, const void* wv, const void* wo,
                             const void* w1, const void* w2, const float* scales,
                             const ap_int<16>* biases, const float* norms,
                             const float* consts) {
    using PL = ParamLayout<L>;
    LayerWeights<L> w;
    w.wq = (const typename linear_traits<Qkv<L>>::wword*)wq;
    w.wk = (const typename linear_traits<Qkv<L>>::wword*)wk;
    w.wv = (const typename linear_traits<Qkv<L>>::wword*)wv;
    w.wo = (const typename linear_traits<OutProj<L>>::wword*)wo;
    w.w1 = (const typename linear_traits<Ffn1<L>>::wword*)w1;
    w.w2 = (const typename linear_traits<Ffn2<L>>::wword*)w2;
    w.sq = scales + PL::SQ; w.sk = scales + PL::SK; w.sv = scales + PL::SV;
    w.so = scales + PL::SO; w.s1 = scales + PL::S1; w.s2 = scales + PL::S2;
    w.bq = biases + PL::SQ; w.bk = biases + PL::SK; w.bv = biases + PL::SV;
    w.bo = biases + PL::SO; w.b1 = biases + PL::S1; w.b2 = biases + PL::S2;
    w.ln0_gamma = norms + PL::G0; w.ln0_beta = norms + PL::B0;
    w.ln1_gamma = norms + PL::G1; w.ln1_beta = norms + PL::B1;
    w.q_inv = consts[0]; w.k_inv = consts[1]; w.v_inv = consts[2]; w.qk_scale = consts[3];
    w.v_scale = consts[4]; w.f1_scale = consts[5]; w.f1_inv = consts[6];
    w.f2_scale = consts[7]; w.f2_inv = consts[8];
    return w;
}

template <class L>
void region1(const float* x, const float* x_q, const float* x_kv, const float* x_scale,
             int tokens, const LayerWeights<L>& w,
             stream<pack_i8<L::P>>& q_out, stream<pack_i8<L::P>>& k_out,
             stream<pack_i8<L::P>>& v_out, stream<pack_f32<L::P>>& skip_out) {
#pragma HLS DATAFLOW
    using R = RowCfg<L, L::D>;
    const int packs = (tokens + L::P - 1) / L::P;
    stream<pack_i8<L::P>> q_in[1], kv_in[2];
    stream<pack_f32<L::P>> q_scale[1], kv_scale[2];
    SPATIAL_STREAM_DEPTH(q_in[0], L::DEPTH_input_loader_q_to_q_proj);
    SPATIAL_STREAM_DEPTH(kv_in[0], L::DEPTH_input_loader_kv_to_k_proj);
    SPATIAL_STREAM_DEPTH(kv_in[1], L::DEPTH_input_loader_kv_to_v_proj);
    SPATIAL_STREAM_DEPTH(q_scale[0], 2);
    SPATIAL_STREAM_DEPTH(kv_scale[0], 2);
    SPATIAL_STREAM_DEPTH(kv_scale[1], 2);
#pragma HLS STREAM variable = q_in depth = SPATIAL_DEPTH_input_loader_q_to_q_proj
#pragma HLS STREAM variable = kv_in depth = SPATIAL_DEPTH_input_loader_kv_to_k_proj
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(load_fp32<R>(x, tokens, skip_out));
    SPATIAL_TASK((load_int8<R, 1>(x_q, x_scale, tokens, q_in, q_scale)));
    SPATIAL_TASK((load_int8<R, 2>(x_kv, x_scale, tokens, kv_in, kv_scale)));
    SPATIAL_TASK(linear<Qkv<L>>(q_in[0], q_scale[0], w.wq, w.sq, w.bq, 1.0f, w.q_inv, q_out,
                                packs));
    SPATIAL_TASK(linear<Qkv<L>>(kv_in[0], kv_scale[0], w.wk, w.sk, w.bk, 1.0f, w.k_inv, k_out,
                                packs));
    SPATIAL_TASK(linear<Qkv<L>>(kv_in[1], kv_scale[1], w.wv, w.sv, w.bv, 1.0f, w.v_inv, v_out,
                                packs));
    SPATIAL_DATAFLOW_END
}

template <class L>
void region2(stream<pack_i8<L::P>>& q_in, stream<pack_i8<L::P>>& k_in,
             stream<pack_i8<L::P>>& v_in, stream<pack_f32<L::P>>& skip_in, int tokens,
             int first_position, ap_int<8>* k_cache, ap_int<8>* v_cache,
             const LayerWeights<L>& w, stream<pack_f32<L::P>>& ln0_out) {
#pragma HLS DATAFLOW
    using A = AttnCfg<L>;
    const int packs = (tokens + L::P - 1) / L::P;
    const int keys = first_position + tokens;
    static ap_int<8> kbuf[L::MAXL][L::D], vbuf[L::MAXL][L::D];
    static pack_i8<L::P> qbuf[L::MAXPACKS][L::D];
    // buffer hand-offs: one token when the layer's K, V or Q rows are all in
    stream<bool> k_done("k_writer_to_qk_matmul", L::DEPTH_k_writer_to_qk_matmul);
    stream<bool> v_done("v_writer_to_sv_matmul", L::DEPTH_v_writer_to_sv_matmul);
    stream<bool> q_done("q_buffer_to_qk_matmul", L::DEPTH_q_buffer_to_qk_matmul);
    stream<pack_f32<L::P>> scores("qk_matmul_to_mask", L::DEPTH_qk_matmul_to_mask);
    #pragma HLS STREAM variable = scores depth = SPATIAL_DEPTH_qk_matmul_to_mask
    stream<pack_f32<L::P>> masked("mask_to_softmax", L::DEPTH_mask_to_softmax);
    #pragma HLS STREAM variable = masked depth = SPATIAL_DEPTH_mask_to_softmax
    stream<pack_i8<L::P>> probs("softmax_to_sv_matmul", L::DEPTH_softmax_to_sv_matmul);
    #pragma HLS STREAM variable = probs depth = SPATIAL_DEPTH_softmax_to_sv_matmul
    stream<pack_f32<L::P>> inv_sum("softmax_inv_sum", L::H * 2);
    stream<pack_i8<L::P>> ctx("sv_matmul_to_out_proj", L::DEPTH_sv_matmul_to_out_proj);
    #pragma HLS STREAM variable = ctx depth = SPATIAL_DEPTH_sv_matmul_to_out_proj
    stream<pack_f32<L::P>> o("out_proj_to_residual0", L::DEPTH_out_proj_to_residual0);
    #pragma HLS STREAM variable = o depth = SPATIAL_DEPTH_out_proj_to_residual0
    stream<pack_f32<L::P>> res("residual0_to_layernorm0", L::DEPTH_residual0_to_layernorm0);
    #pragma HLS STREAM variable = res depth = SPATIAL_DEPTH_residual0_to_layernorm0
    stream<pack_f32<L::P>> unused_scale("unused_scale", 1);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(kv_writer<KvCfg<L>>(k_in, kbuf, k_cache, first_position, tokens, k_done));
    SPATIAL_TASK(kv_writer<KvCfg<L>>(v_in, vbuf, v_cache, first_position, tokens, v_done));
    SPATIAL_TASK(q_buffer<KvCfg<L>>(q_in, qbuf, packs, q_done));
    SPATIAL_TASK(qk_matmul<A>(qbuf, q_done, kbuf, k_done, packs, keys, w.qk_scale, scores));
    SPATIAL_TASK(mask<A>(scores, packs, keys, first_position, L::CAUSAL, masked));
    SPATIAL_TASK(softmax<A>(masked, packs, keys, probs, inv_sum));
    SPATIAL_TASK(sv_matmul<A>(probs, inv_sum, vbuf, v_done, packs, keys, ctx));
    SPATIAL_TASK(linear<OutProj<L>>(ctx, unused_scale, w.wo, w.so, w.bo, w.v_scale, 1.0f, o,
                                    packs));
    SPATIAL_TASK(residual<RowCfg<L, L::D>>(o, skip_in, packs, res));
    SPATIAL_TASK((rownorm<RowCfg<L, L::D>, uses_rmsnorm<L>::value>(res, w.ln0_gamma, w.ln0_beta, packs, ln0_out)));
    SPATIAL_DATAFLOW_END
}

template <class L>
void region3(stream<pack_f32<L::P>>& ln0_in, int tokens, const LayerWeights<L>& w, float* y,
             float* y_scale) {
#pragma HLS DATAFLOW
    const int packs = (tokens + L::P - 1) / L::P;
    stream<pack_i8<L::P>> f1_in("splitter_to_ffn1", L::DEPTH_splitter_to_ffn1);
    #pragma HLS STREAM variable = f1_in depth = SPATIAL_DEPTH_splitter_to_ffn1
    stream<pack_f32<L::P>> bypass("ffn_residual_bypass", L::DEPTH_ffn_residual_bypass);
    #pragma HLS STREAM variable = bypass depth = SPATIAL_DEPTH_ffn_residual_bypass
    stream<pack_f32<L::P>> f1("ffn1_to_gelu", L::DEPTH_ffn1_to_gelu);
    #pragma HLS STREAM variable = f1 depth = SPATIAL_DEPTH_ffn1_to_gelu
    stream<pack_i8<L::P>> f2_in("gelu_to_ffn2", L::DEPTH_gelu_to_ffn2);
    #pragma HLS STREAM variable = f2_in depth = SPATIAL_DEPTH_gelu_to_ffn2
    stream<pack_f32<L::P>> f2("ffn2_to_residual1", L::DEPTH_ffn2_to_residual1);
    #pragma HLS STREAM variable = f2 depth = SPATIAL_DEPTH_ffn2_to_residual1
    stream<pack_f32<L::P>> res("residual1_to_layernorm1", L::DEPTH_residual1_to_layernorm1);
    #pragma HLS STREAM variable = res depth = SPATIAL_DEPTH_residual1_to_layernorm1
    stream<pack_f32<L::P>> out("layernorm1_to_output_writer",
                              L::DEPTH_layernorm1_to_output_writer);
    stream<pack_f32<L::P>> unused1("unused_scale1", 1), unused2("unused_scale2", 1);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(splitter<RowCfg<L, L::D>>(ln0_in, w.f1_inv, packs, f1_in, bypass));
    SPATIAL_TASK(linear<Ffn1<L>>(f1_in, unused1, w.w1, w.s1, w.b1, w.f1_scale, 1.0f, f1,
                                 packs));
    SPATIAL_TASK(gelu<RowCfg<L, L::FFN>>(f1, w.f2_inv, packs, f2_in));
    SPATIAL_TASK(linear<Ffn2<L>>(f2_in, unused2, w.w2, w.s2, w.b2, w.f2_scale, 1.0f, f2,
                                 packs));
    SPATIAL_TASK(residual<RowCfg<L, L::D>>(f2, bypass, packs, res));
    SPATIAL_TASK((rownorm<RowCfg<L, L::D>, uses_rmsnorm<L>::value>(res, w.ln1_gamma, w.ln1_beta, packs, out)));
    SPATIAL_TASK(store_fp32<RowCfg<L, L::D>>(out, tokens, y, y_scale));
    SPATIAL_DATAFLOW_END
}

// The layer as the host runs it: the three region kernels launched together, joined by
// the inter-SLR links (depths from the design graph).
template <class L>
void layer(const float* x, const float* x_scale, int tokens, int first_position,
           ap_int<8>* k_cache, ap_int<8>* v_cache, const LayerWeights<L>& w, float* y,
           float* y_scale) {
    stream<pack_i8<L::P>> q("q_proj_to_q_buffer", L::DEPTH_q_proj_to_q_buffer);
    #pragma HLS STREAM variable = q depth = SPATIAL_DEPTH_q_proj_to_q_buffer
    stream<pack_i8<L::P>> k("k_proj_to_k_writer", L::DEPTH_k_proj_to_k_writer);
    #pragma HLS STREAM variable = k depth = SPATIAL_DEPTH_k_proj_to_k_writer
    stream<pack_i8<L::P>> v("v_proj_to_v_writer", L::DEPTH_v_proj_to_v_writer);
    #pragma HLS STREAM variable = v depth = SPATIAL_DEPTH_v_proj_to_v_writer
    stream<pack_f32<L::P>> skip("input_loader_to_residual0", L::DEPTH_input_loader_to_residual0);
    #pragma HLS STREAM variable = skip depth = SPATIAL_DEPTH_input_loader_to_residual0
    stream<pack_f32<L::P>> ln0("layernorm0_to_splitter", L::DEPTH_layernorm0_to_splitter);
    #pragma HLS STREAM variable = ln0 depth = SPATIAL_DEPTH_layernorm0_to_splitter
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(region1<L>(x, x, x, x_scale, tokens, w, q, k, v, skip));
    SPATIAL_TASK(region2<L>(q, k, v, skip, tokens, first_position, k_cache, v_cache, w, ln0));
    SPATIAL_TASK(region3<L>(ln0, tokens, w, y, y_scale));
    SPATIAL_DATAFLOW_END
}

}  // namespace spatial
