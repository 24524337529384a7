// regions_llama.h: the three region kernels of a LLaMA-family layer on the chen2024 arrays
// (the chen2024-llama templates, spatialsim/design/llama_templates.py), and the whole layer
// for C simulation. Golden model: spatialsim.golden.llama_layer.
//
//   R1 (SLR0): input loaders; the input RMSNorms writing int8 (layernorm1_q for Q,
//              layernorm1_kv for K and V); Q / K / V linears; RoPE on Q and K
//   R2 (SLR1): K / V writers (grouped-query: KVH heads), Q buffer, Q.K^T, mask, softmax,
//              softmax.V, output projection, residual 0 (with the un-normalised input)
//   R3 (SLR2): the fork of residual 0 to the FFN RMSNorm and the bypass, gate and up
//              linears, SiLU(gate) x up, the down linear (ffn2), residual 1, output writer
//
// L is the layer configuration `spatialsim export-hls` writes from the design graph: P, D,
// H, KVH, HD, KVD (= KVH x HD), FFN, MAXL, MAXPACKS, W_BITS, QKVO_COLS, FFN_COLS, ATTN_COLS,
// ATTN_PACK, SOFTMAX_BUFFERED, BIAS (false: LLaMA's linears have none), EPS, KV_ON_CHIP
// (every layer's K/V rows in an on-chip store rather than HBM: k_cache / v_cache then
// point at the layer's slice of it, LAYERS x MAXL x KVD in all), and a DEPTH_ constant for
// every FIFO of the graph.
#pragma once

#include "spatial/attention.h"
#include "spatial/dataflow.h"
#include "spatial/kv.h"
#include "spatial/linear.h"
#include "spatial/memory.h"
#include "spatial/regions.h"
#include "spatial/rope.h"
#include "spatial/rowwise.h"

namespace spatial {

template <class L, int F_>
struct LlamaRowCfg {
    static constexpr int P = L::P, F = F_;
    static constexpr float EPS = L::EPS;
};

template <class L>
struct LlamaAttnCfg {
    static constexpr int P = L::P, HEADS = L::H, KV_HEADS = L::KVH, HD = L::HD,
                         COLS = L::ATTN_COLS, PACK = L::ATTN_PACK, MAXL = L::MAXL,
                         MAXPACKS = L::MAXPACKS, HP = 1;
    static constexpr bool BUFFERED = L::SOFTMAX_BUFFERED;
};

template <class L, int F_>
struct LlamaBufCfg {
    static constexpr int P = L::P, F = F_, MAXL = L::MAXL, MAXPACKS = L::MAXPACKS;
    static constexpr bool CACHE_ON_CHIP = L::KV_ON_CHIP;
};

template <class L, int F_>
struct LlamaRopeCfg {
    static constexpr int P = L::P, F = F_, HD = L::HD, MAXL = L::MAXL;
};

// The linears: Q and K write fp32 for RoPE, V int8; every input is at a static scale.
template <class L>
using LlamaQ = LinearCfg<L, L::D, L::D, L::QKVO_COLS, true, false>;
template <class L>
using LlamaK = LinearCfg<L, L::D, L::KVD, L::QKVO_COLS, true, false>;
template <class L>
using LlamaV = LinearCfg<L, L::D, L::KVD, L::QKVO_COLS, false, false>;
template <class L>
using LlamaO = LinearCfg<L, L::D, L::D, L::QKVO_COLS, true, false>;
template <class L>
using LlamaGateUp = LinearCfg<L, L::D, L::FFN, L::FFN_COLS, true, false>;
template <class L>
using LlamaDown = LinearCfg<L, L::FFN, L::D, L::FFN_COLS, true, false>;

// The per-channel scales, the norms' weights, the angle table and the static scales: what
// both the systolic and the GEMV (decode) LLaMA regions take besides their matrices.
struct LlamaScalars {
    const float *sq, *sk, *sv, *so, *sg, *su, *sd;  // per-output-channel weight scales
    const float *attn_gamma, *ffn_gamma;             // the RMSNorms' weights
    const float *cos_t, *sin_t;                      // the angle table, [MAXL][HD / 2]
    float xn_inv, xn_scale;  // the input norm's output scale (Q/K/V input) and its inverse
    float q_inv, k_inv, v_inv;  // 1 / static scales of Q and K after RoPE, of V
    float qk_scale;             // s_q * s_k / sqrt(head_dim)
    float v_scale;              // the context's scale (V's)
    float hn_scale, hn_inv;     // the FFN norm's output scale (gate and up input)
    float f2_scale, f2_inv;     // SiLU(gate) x up's scale (the down projection's input)
};

template <class L>
struct LlamaWeights : LlamaScalars {
    const typename linear_traits<LlamaQ<L>>::wword* wq;
    const typename linear_traits<LlamaK<L>>::wword *wk, *wv;
    const typename linear_traits<LlamaO<L>>::wword* wo;
    const typename linear_traits<LlamaGateUp<L>>::wword *wg, *wu;
    const typename linear_traits<LlamaDown<L>>::wword* wd;
};

// Offsets in the three parameter buffers: scales (sq D, sk KVD, sv KVD, so D, sg FFN,
// su FFN, sd D), norms (attention gamma D, FFN gamma D), the angle table (cos, sin).
template <class L>
struct LlamaLayout {
    static constexpr int SQ = 0, SK = L::D, SV = L::D + L::KVD, SO = L::D + 2 * L::KVD,
                         SG = 2 * L::D + 2 * L::KVD, SU = SG + L::FFN, SD = SU + L::FFN,
                         SCALES = SD + L::D;
    static constexpr int G_ATTN = 0, G_FFN = L::D, NORMS = 2 * L::D;
    static constexpr int COS = 0, SIN = L::MAXL * (L::HD / 2), ROPE = 2 * SIN;
};

// The `consts` buffer: 1/s_xn, s_xn, 1/s_q, 1/s_k, 1/s_v, qk_scale, s_v, s_hn, 1/s_hn,
// s_f2, 1/s_f2.
constexpr int LLAMA_NUM_CONSTS = 11;

template <class L>
void bind_llama_scalars(LlamaScalars& w, const float* scales, const float* norms,
                        const float* rope_table, const float* consts) {
    using PL = LlamaLayout<L>;
    w.sq = scales + PL::SQ; w.sk = scales + PL::SK; w.sv = scales + PL::SV;
    w.so = scales + PL::SO; w.sg = scales + PL::SG; w.su = scales + PL::SU;
    w.sd = scales + PL::SD;
    w.attn_gamma = norms ? norms + PL::G_ATTN : nullptr;
    w.ffn_gamma = norms ? norms + PL::G_FFN : nullptr;
    w.cos_t = rope_table ? rope_table + PL::COS : nullptr;
    w.sin_t = rope_table ? rope_table + PL::SIN : nullptr;
    w.xn_inv = consts[0]; w.xn_scale = consts[1]; w.q_inv = consts[2]; w.k_inv = consts[3];
    w.v_inv = consts[4]; w.qk_scale = consts[5]; w.v_scale = consts[6];
    w.hn_scale = consts[7]; w.hn_inv = consts[8]; w.f2_scale = consts[9]; w.f2_inv = consts[10];
}

template <class L>
LlamaWeights<L> bind_llama_weights(const void* wq, const void* wk, const void* wv,
                                   const void* wo, const void* wg, const void* wu,
                                   const void* wd, const float* scales, const float* norms,
                                   const float* rope_table, const float* consts) {
    LlamaWeights<L> w;
    w.wq = (const typename linear_traits<LlamaQ<L>>::wword*)wq;
    w.wk = (const typename linear_traits<LlamaK<L>>::wword*)wk;
    w.wv = (const typename linear_traits<LlamaK<L>>::wword*)wv;
    w.wo = (const typename linear_traits<LlamaO<L>>::wword*)wo;
    w.wg = (const typename linear_traits<LlamaGateUp<L>>::wword*)wg;
    w.wu = (const typename linear_traits<LlamaGateUp<L>>::wword*)wu;
    w.wd = (const typename linear_traits<LlamaDown<L>>::wword*)wd;
    bind_llama_scalars<L>(w, scales, norms, rope_table, consts);
    return w;
}

template <class L>
void llama_region1(const float* x, const float* x_q, const float* x_kv, int tokens,
                   int first_position, const LlamaWeights<L>& w,
                   stream<pack_i8<L::P>>& q_out, stream<pack_i8<L::P>>& k_out,
                   stream<pack_i8<L::P>>& v_out, stream<pack_f32<L::P>>& skip_out) {
#pragma HLS DATAFLOW
    using R = LlamaRowCfg<L, L::D>;
    const int packs = (tokens + L::P - 1) / L::P;
    stream<pack_f32<L::P>> q_raw("input_loader_q_to_layernorm1_q",
                                 L::DEPTH_input_loader_q_to_layernorm1_q);
    stream<pack_f32<L::P>> kv_raw("input_loader_kv_to_layernorm1_kv",
                                  L::DEPTH_input_loader_kv_to_layernorm1_kv);
    stream<pack_i8<L::P>> q_in[1], kv_in[2];
    SPATIAL_STREAM_DEPTH(q_in[0], L::DEPTH_layernorm1_q_to_q_proj);
    SPATIAL_STREAM_DEPTH(kv_in[0], L::DEPTH_layernorm1_kv_to_k_proj);
    SPATIAL_STREAM_DEPTH(kv_in[1], L::DEPTH_layernorm1_kv_to_v_proj);
#pragma HLS STREAM variable = q_in depth = SPATIAL_DEPTH_layernorm1_q_to_q_proj
#pragma HLS STREAM variable = kv_in depth = SPATIAL_DEPTH_layernorm1_kv_to_k_proj
    stream<pack_f32<L::P>> q_f("q_proj_to_rope_q", L::DEPTH_q_proj_to_rope_q);
    #pragma HLS STREAM variable = q_f depth = SPATIAL_DEPTH_q_proj_to_rope_q
    stream<pack_f32<L::P>> k_f("k_proj_to_rope_k", L::DEPTH_k_proj_to_rope_k);
    #pragma HLS STREAM variable = k_f depth = SPATIAL_DEPTH_k_proj_to_rope_k
    stream<pack_f32<L::P>> unused_q("unused_q", 1), unused_k("unused_k", 1),
        unused_v("unused_v", 1);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(load_fp32<R>(x, tokens, skip_out));
    SPATIAL_TASK(load_fp32<R>(x_q, tokens, q_raw));
    SPATIAL_TASK(load_fp32<R>(x_kv, tokens, kv_raw));
    SPATIAL_TASK((rmsnorm_quant<R, 1>(q_raw, w.attn_gamma, w.xn_inv, packs, q_in)));
    SPATIAL_TASK((rmsnorm_quant<R, 2>(kv_raw, w.attn_gamma, w.xn_inv, packs, kv_in)));
    SPATIAL_TASK(linear<LlamaQ<L>>(q_in[0], unused_q, w.wq, w.sq, nullptr, w.xn_scale, 1.0f,
                                   q_f, packs));
    SPATIAL_TASK(linear<LlamaK<L>>(kv_in[0], unused_k, w.wk, w.sk, nullptr, w.xn_scale, 1.0f,
                                   k_f, packs));
    SPATIAL_TASK(linear<LlamaV<L>>(kv_in[1], unused_v, w.wv, w.sv, nullptr, w.xn_scale,
                                   w.v_inv, v_out, packs));
    SPATIAL_TASK(rope<LlamaRopeCfg<L, L::D>>(q_f, w.cos_t, w.sin_t, first_position, tokens,
                                              w.q_inv, q_out));
    SPATIAL_TASK(rope<LlamaRopeCfg<L, L::KVD>>(k_f, w.cos_t, w.sin_t, first_position, tokens,
                                                w.k_inv, k_out));
    SPATIAL_DATAFLOW_END
}

template <class L>
void llama_region2(stream<pack_i8<L::P>>& q_in, stream<pack_i8<L::P>>& k_in,
                   stream<pack_i8<L::P>>& v_in, stream<pack_f32<L::P>>& skip_in, int tokens,
                   int first_position, ap_int<8>* k_cache, ap_int<8>* v_cache,
                   const LlamaWeights<L>& w, stream<pack_f32<L::P>>& res_out) {
#pragma HLS DATAFLOW
    using A = LlamaAttnCfg<L>;
    using KV = LlamaBufCfg<L, L::KVD>;
    const int packs = (tokens + L::P - 1) / L::P;
    const int keys = first_position + tokens;
    // the working K/V buffers; with the cache on chip, the layer's slice of the store
    static ap_int<8> kwork[L::MAXL][L::KVD], vwork[L::MAXL][L::KVD];
    typedef ap_int<8> Rows[L::KVD];
    Rows* kbuf = L::KV_ON_CHIP ? reinterpret_cast<Rows*>(k_cache) : kwork;
    Rows* vbuf = L::KV_ON_CHIP ? reinterpret_cast<Rows*>(v_cache) : vwork;
    static pack_i8<L::P> qbuf[L::MAXPACKS][L::D];
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
    stream<pack_f32<L::P>> unused_scale("unused_scale", 1);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(kv_writer<KV>(k_in, kbuf, k_cache, first_position, tokens, k_done));
    SPATIAL_TASK(kv_writer<KV>(v_in, vbuf, v_cache, first_position, tokens, v_done));
    SPATIAL_TASK((q_buffer<LlamaBufCfg<L, L::D>>(q_in, qbuf, packs, q_done)));
    SPATIAL_TASK(qk_matmul<A>(qbuf, q_done, kbuf, k_done, packs, keys, w.qk_scale, scores));
    SPATIAL_TASK(mask<A>(scores, packs, keys, first_position, true, masked));
    SPATIAL_TASK(softmax<A>(masked, packs, keys, probs, inv_sum));
    SPATIAL_TASK(sv_matmul<A>(probs, inv_sum, vbuf, v_done, packs, keys, ctx));
    SPATIAL_TASK(linear<LlamaO<L>>(ctx, unused_scale, w.wo, w.so, nullptr, w.v_scale, 1.0f, o,
                                   packs));
    SPATIAL_TASK((residual<LlamaRowCfg<L, L::D>>(o, skip_in, packs, res_out)));
    SPATIAL_DATAFLOW_END
}

template <class L>
void llama_region3(stream<pack_f32<L::P>>& res_in, int tokens, const LlamaWeights<L>& w,
                   float* y, float* y_scale) {
#pragma HLS DATAFLOW
    using R = LlamaRowCfg<L, L::D>;
    const int packs = (tokens + L::P - 1) / L::P;
    stream<pack_f32<L::P>> to_norm("splitter_to_layernorm0", L::DEPTH_splitter_to_layernorm0);
    #pragma HLS STREAM variable = to_norm depth = SPATIAL_DEPTH_splitter_to_layernorm0
    stream<pack_f32<L::P>> bypass("ffn_residual_bypass", L::DEPTH_ffn_residual_bypass);
    #pragma HLS STREAM variable = bypass depth = SPATIAL_DEPTH_ffn_residual_bypass
    stream<pack_i8<L::P>> gu_in[2];
    SPATIAL_STREAM_DEPTH(gu_in[0], L::DEPTH_layernorm0_to_ffn_gate);
    SPATIAL_STREAM_DEPTH(gu_in[1], L::DEPTH_layernorm0_to_ffn1);
#pragma HLS STREAM variable = gu_in depth = SPATIAL_DEPTH_layernorm0_to_ffn1
    stream<pack_f32<L::P>> gate("ffn_gate_to_silu_mul", L::DEPTH_ffn_gate_to_silu_mul);
    #pragma HLS STREAM variable = gate depth = SPATIAL_DEPTH_ffn_gate_to_silu_mul
    stream<pack_f32<L::P>> up("ffn1_to_silu_mul", L::DEPTH_ffn1_to_silu_mul);
    #pragma HLS STREAM variable = up depth = SPATIAL_DEPTH_ffn1_to_silu_mul
    stream<pack_i8<L::P>> f2_in("silu_mul_to_ffn2", L::DEPTH_silu_mul_to_ffn2);
    #pragma HLS STREAM variable = f2_in depth = SPATIAL_DEPTH_silu_mul_to_ffn2
    stream<pack_f32<L::P>> f2("ffn2_to_residual1", L::DEPTH_ffn2_to_residual1);
    #pragma HLS STREAM variable = f2 depth = SPATIAL_DEPTH_ffn2_to_residual1
    stream<pack_f32<L::P>> out("residual1_to_output_writer",
                              L::DEPTH_residual1_to_output_writer);
    #pragma HLS STREAM variable = out depth = SPATIAL_DEPTH_residual1_to_output_writer
    stream<pack_f32<L::P>> unused1("unused_scale1", 1), unused2("unused_scale2", 1),
        unused3("unused_scale3", 1);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(fork_fp32<R>(res_in, packs, to_norm, bypass));
    SPATIAL_TASK((rmsnorm_quant<R, 2>(to_norm, w.ffn_gamma, w.hn_inv, packs, gu_in)));
    SPATIAL_TASK(linear<LlamaGateUp<L>>(gu_in[0], unused1, w.wg, w.sg, nullptr, w.hn_scale,
                                        1.0f, gate, packs));
    SPATIAL_TASK(linear<LlamaGateUp<L>>(gu_in[1], unused2, w.wu, w.su, nullptr, w.hn_scale,
                                        1.0f, up, packs));
    SPATIAL_TASK((silu_mul_split<LlamaRowCfg<L, L::FFN>>(gate, up, w.f2_inv, packs, f2_in)));
    SPATIAL_TASK(linear<LlamaDown<L>>(f2_in, unused3, w.wd, w.sd, nullptr, w.f2_scale, 1.0f,
                                      f2, packs));
    SPATIAL_TASK(residual<R>(f2, bypass, packs, out));
    SPATIAL_TASK(store_fp32<R>(out, tokens, y, y_scale));
    SPATIAL_DATAFLOW_END
}

// The layer as the host runs it: the three region kernels launched together, joined by
// the inter-SLR links (depths from the design graph).
template <class L>
void llama_layer(const float* x, int tokens, int first_position, ap_int<8>* k_cache,
                 ap_int<8>* v_cache, const LlamaWeights<L>& w, float* y, float* y_scale) {
    stream<pack_i8<L::P>> q("rope_q_to_q_buffer", L::DEPTH_rope_q_to_q_buffer);
    #pragma HLS STREAM variable = q depth = SPATIAL_DEPTH_rope_q_to_q_buffer
    stream<pack_i8<L::P>> k("rope_k_to_k_writer", L::DEPTH_rope_k_to_k_writer);
    #pragma HLS STREAM variable = k depth = SPATIAL_DEPTH_rope_k_to_k_writer
    stream<pack_i8<L::P>> v("v_proj_to_v_writer", L::DEPTH_v_proj_to_v_writer);
    #pragma HLS STREAM variable = v depth = SPATIAL_DEPTH_v_proj_to_v_writer
    stream<pack_f32<L::P>> skip("input_loader_to_residual0", L::DEPTH_input_loader_to_residual0);
    #pragma HLS STREAM variable = skip depth = SPATIAL_DEPTH_input_loader_to_residual0
    stream<pack_f32<L::P>> res("residual0_to_splitter", L::DEPTH_residual0_to_splitter);
    #pragma HLS STREAM variable = res depth = SPATIAL_DEPTH_residual0_to_splitter
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(llama_region1<L>(x, x, x, tokens, first_position, w, q, k, v, skip));
    SPATIAL_TASK(llama_region2<L>(q, k, v, skip, tokens, first_position, k_cache, v_cache, w,
                                  res));
    SPATIAL_TASK(llama_region3<L>(res, tokens, w, y, y_scale));
    SPATIAL_DATAFLOW_END
}

}  // namespace spatial
