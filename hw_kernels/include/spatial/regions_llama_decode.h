// regions_llama_decode.h: the decode (GEMV) bitstream of a chen2024-llama-w8a8 layer, one
// token per launch, and the whole decode layer for C simulation. The same operators as
// regions_llama.h (input RMSNorms writing int8, RoPE, grouped-query attention, the fork,
// gate and up, SiLU x up, down) with GEMV engines for the seven matrices and the decode
// attention engines (HP heads side by side) for Q.K^T and softmax.V.
//
// L is the configuration `spatialsim export-hls` writes for the decode bitstream: P = 1,
// D, H, KVH, HD, KVD, FFN, MAXL, LAYERS, PES, ENGINES_QKVO, ENGINES_FFN, HP, LANES,
// GEMV_COLUMN, SOFTMAX_BUFFERED, KV_ON_CHIP, EPS and DEPTH_<fifo> for every FIFO.
#pragma once

#include "spatial/regions_decode.h"
#include "spatial/regions_llama.h"

namespace spatial {

template <class L, int K_, int N_, int ENGINES_, bool FP32_>
struct LlamaGemvCfg {
    static constexpr int K = K_, N = N_, ENGINES = ENGINES_, PES = L::PES, PACK = 2;
    static constexpr bool OUT_FP32 = FP32_, HAS_BIAS = false, TOKEN_SCALES = false,
                          COLUMN = L::GEMV_COLUMN;
};

template <class L>
using DLlamaQ = LlamaGemvCfg<L, L::D, L::D, L::ENGINES_QKVO, true>;
template <class L>
using DLlamaK = LlamaGemvCfg<L, L::D, L::KVD, L::ENGINES_QKVO, true>;
template <class L>
using DLlamaV = LlamaGemvCfg<L, L::D, L::KVD, L::ENGINES_QKVO, false>;
template <class L>
using DLlamaO = LlamaGemvCfg<L, L::D, L::D, L::ENGINES_QKVO, true>;
template <class L>
using DLlamaGateUp = LlamaGemvCfg<L, L::D, L::FFN, L::ENGINES_FFN, true>;
template <class L>
using DLlamaDown = LlamaGemvCfg<L, L::FFN, L::D, L::ENGINES_FFN, true>;

template <class L>
struct LlamaDecodeAttnCfg {
    static constexpr int P = 1, HEADS = L::H, KV_HEADS = L::KVH, HD = L::HD, HP = L::HP,
                         LANES = L::LANES, MAXL = L::MAXL, MAXPACKS = 1;
    static constexpr bool BUFFERED = L::SOFTMAX_BUFFERED;
};

template <class L, int F_>
struct LlamaDecodeBufCfg {
    static constexpr int P = 1, F = F_, MAXL = L::MAXL, MAXPACKS = 1;
    static constexpr bool CACHE_ON_CHIP = L::KV_ON_CHIP;
};

template <class L>
struct LlamaDecodeWeights : LlamaScalars {
    EnginePorts<DLlamaQ<L>> wq;
    EnginePorts<DLlamaK<L>> wk;
    EnginePorts<DLlamaV<L>> wv;
    EnginePorts<DLlamaO<L>> wo;
    EnginePorts<DLlamaGateUp<L>> wg, wu;
    EnginePorts<DLlamaDown<L>> wd;
};

template <class L>
void llama_decode_region1(const float* x, const float* x_q, const float* x_kv, int cached,
                          const LlamaDecodeWeights<L>& w, stream<pack_i8<1>>& q_out,
                          stream<pack_i8<1>>& k_out, stream<pack_i8<1>>& v_out,
                          stream<pack_f32<1>>& skip_out) {
#pragma HLS DATAFLOW
    using R = LlamaRowCfg<L, L::D>;
    stream<pack_f32<1>> q_raw("input_loader_q_to_layernorm1_q",
                              L::DEPTH_input_loader_q_to_layernorm1_q);
    stream<pack_f32<1>> kv_raw("input_loader_kv_to_layernorm1_kv",
                               L::DEPTH_input_loader_kv_to_layernorm1_kv);
    stream<pack_i8<1>> q_in[1], kv_in[2];
    SPATIAL_STREAM_DEPTH(q_in[0], L::DEPTH_layernorm1_q_to_q_proj);
    SPATIAL_STREAM_DEPTH(kv_in[0], L::DEPTH_layernorm1_kv_to_k_proj);
    SPATIAL_STREAM_DEPTH(kv_in[1], L::DEPTH_layernorm1_kv_to_v_proj);
    stream<pack_f32<1>> q_f("q_proj_to_rope_q", L::DEPTH_q_proj_to_rope_q);
#pragma HLS STREAM variable = q_f depth = SPATIAL_DEPTH_q_proj_to_rope_q
    stream<pack_f32<1>> k_f("k_proj_to_rope_k", L::DEPTH_k_proj_to_rope_k);
#pragma HLS STREAM variable = k_f depth = SPATIAL_DEPTH_k_proj_to_rope_k
    stream<pack_f32<1>> unused_q("unused_q", 1), unused_k("unused_k", 1),
        unused_v("unused_v", 1);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(load_fp32<R>(x, 1, skip_out));
    SPATIAL_TASK(load_fp32<R>(x_q, 1, q_raw));
    SPATIAL_TASK(load_fp32<R>(x_kv, 1, kv_raw));
    SPATIAL_TASK((rmsnorm_quant<R, 1>(q_raw, w.attn_gamma, w.xn_inv, 1, q_in)));
    SPATIAL_TASK((rmsnorm_quant<R, 2>(kv_raw, w.attn_gamma, w.xn_inv, 1, kv_in)));
    SPATIAL_TASK(gemv_ports<DLlamaQ<L>>(q_in[0], unused_q, w.wq, w.sq, nullptr, w.xn_scale,
                                        1.0f, q_f));
    SPATIAL_TASK(gemv_ports<DLlamaK<L>>(kv_in[0], unused_k, w.wk, w.sk, nullptr, w.xn_scale,
                                        1.0f, k_f));
    SPATIAL_TASK(gemv_ports<DLlamaV<L>>(kv_in[1], unused_v, w.wv, w.sv, nullptr, w.xn_scale,
                                        w.v_inv, v_out));
    SPATIAL_TASK(rope<LlamaRopeCfg<L, L::D>>(q_f, w.cos_t, w.sin_t, cached, 1, w.q_inv, q_out));
    SPATIAL_TASK(rope<LlamaRopeCfg<L, L::KVD>>(k_f, w.cos_t, w.sin_t, cached, 1, w.k_inv,
                                                k_out));
    SPATIAL_DATAFLOW_END
}

template <class L>
void llama_decode_region2(stream<pack_i8<1>>& q_in, stream<pack_i8<1>>& k_in,
                          stream<pack_i8<1>>& v_in, stream<pack_f32<1>>& skip_in, int cached,
                          ap_int<8>* k_cache, ap_int<8>* v_cache,
                          const LlamaDecodeWeights<L>& w, stream<pack_f32<1>>& res_out) {
#pragma HLS DATAFLOW
    using A = LlamaDecodeAttnCfg<L>;
    using KV = LlamaDecodeBufCfg<L, L::KVD>;
    const int keys = cached + 1;
    static ap_int<8> kwork[L::MAXL][L::KVD], vwork[L::MAXL][L::KVD];
    typedef ap_int<8> Rows[L::KVD];
    Rows* kbuf = L::KV_ON_CHIP ? reinterpret_cast<Rows*>(k_cache) : kwork;
    Rows* vbuf = L::KV_ON_CHIP ? reinterpret_cast<Rows*>(v_cache) : vwork;
    static pack_i8<1> qbuf[1][L::D];
    stream<bool> k_done("k_writer_to_qk_matmul", L::DEPTH_k_writer_to_qk_matmul);
    stream<bool> v_done("v_writer_to_sv_matmul", L::DEPTH_v_writer_to_sv_matmul);
    stream<bool> q_done("q_buffer_to_qk_matmul", L::DEPTH_q_buffer_to_qk_matmul);
    stream<pack_f32<1>> scores("qk_matmul_to_mask", L::DEPTH_qk_matmul_to_mask);
#pragma HLS STREAM variable = scores depth = SPATIAL_DEPTH_qk_matmul_to_mask
    stream<pack_f32<1>> masked("mask_to_softmax", L::DEPTH_mask_to_softmax);
#pragma HLS STREAM variable = masked depth = SPATIAL_DEPTH_mask_to_softmax
    stream<pack_i8<1>> probs("softmax_to_sv_matmul", L::DEPTH_softmax_to_sv_matmul * L::HP);
    stream<pack_f32<1>> inv_sum("softmax_inv_sum", 2 * L::H);
    stream<pack_i8<1>> ctx("sv_matmul_to_out_proj", L::DEPTH_sv_matmul_to_out_proj);
#pragma HLS STREAM variable = ctx depth = SPATIAL_DEPTH_sv_matmul_to_out_proj
    stream<pack_f32<1>> o("out_proj_to_residual0", L::DEPTH_out_proj_to_residual0);
#pragma HLS STREAM variable = o depth = SPATIAL_DEPTH_out_proj_to_residual0
    stream<pack_f32<1>> unused("unused_scale", 1);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(kv_writer<KV>(k_in, kbuf, k_cache, cached, 1, k_done));
    SPATIAL_TASK(kv_writer<KV>(v_in, vbuf, v_cache, cached, 1, v_done));
    SPATIAL_TASK((q_buffer<LlamaDecodeBufCfg<L, L::D>>(q_in, qbuf, 1, q_done)));
    SPATIAL_TASK(qk_gemv<A>(qbuf, q_done, kbuf, k_done, keys, w.qk_scale, scores));
    SPATIAL_TASK(mask<A>(scores, 1, keys, cached, true, masked));
    SPATIAL_TASK(softmax<A>(masked, 1, keys, probs, inv_sum));
    SPATIAL_TASK(sv_gemv<A>(probs, inv_sum, vbuf, v_done, keys, ctx));
    SPATIAL_TASK(gemv_ports<DLlamaO<L>>(ctx, unused, w.wo, w.so, nullptr, w.v_scale, 1.0f, o));
    SPATIAL_TASK((residual<LlamaRowCfg<L, L::D>>(o, skip_in, 1, res_out)));
    SPATIAL_DATAFLOW_END
}

template <class L>
void llama_decode_region3(stream<pack_f32<1>>& res_in, const LlamaDecodeWeights<L>& w,
                          float* y, float* y_scale) {
#pragma HLS DATAFLOW
    using R = LlamaRowCfg<L, L::D>;
    stream<pack_f32<1>> to_norm("splitter_to_layernorm0", L::DEPTH_splitter_to_layernorm0);
#pragma HLS STREAM variable = to_norm depth = SPATIAL_DEPTH_splitter_to_layernorm0
    stream<pack_f32<1>> bypass("ffn_residual_bypass", L::DEPTH_ffn_residual_bypass);
#pragma HLS STREAM variable = bypass depth = SPATIAL_DEPTH_ffn_residual_bypass
    stream<pack_i8<1>> gu_in[2];
    SPATIAL_STREAM_DEPTH(gu_in[0], L::DEPTH_layernorm0_to_ffn_gate);
    SPATIAL_STREAM_DEPTH(gu_in[1], L::DEPTH_layernorm0_to_ffn1);
    stream<pack_f32<1>> gate("ffn_gate_to_silu_mul", L::DEPTH_ffn_gate_to_silu_mul);
#pragma HLS STREAM variable = gate depth = SPATIAL_DEPTH_ffn_gate_to_silu_mul
    stream<pack_f32<1>> up("ffn1_to_silu_mul", L::DEPTH_ffn1_to_silu_mul);
#pragma HLS STREAM variable = up depth = SPATIAL_DEPTH_ffn1_to_silu_mul
    stream<pack_i8<1>> f2_in("silu_mul_to_ffn2", L::DEPTH_silu_mul_to_ffn2);
#pragma HLS STREAM variable = f2_in depth = SPATIAL_DEPTH_silu_mul_to_ffn2
    stream<pack_f32<1>> f2("ffn2_to_residual1", L::DEPTH_ffn2_to_residual1);
#pragma HLS STREAM variable = f2 depth = SPATIAL_DEPTH_ffn2_to_residual1
    stream<pack_f32<1>> out("residual1_to_output_writer", L::DEPTH_residual1_to_output_writer);
#pragma HLS STREAM variable = out depth = SPATIAL_DEPTH_residual1_to_output_writer
    stream<pack_f32<1>> unused1("unused_scale1", 1), unused2("unused_scale2", 1),
        unused3("unused_scale3", 1);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(fork_fp32<R>(res_in, 1, to_norm, bypass));
    SPATIAL_TASK((rmsnorm_quant<R, 2>(to_norm, w.ffn_gamma, w.hn_inv, 1, gu_in)));
    SPATIAL_TASK(gemv_ports<DLlamaGateUp<L>>(gu_in[0], unused1, w.wg, w.sg, nullptr, w.hn_scale,
                                             1.0f, gate));
    SPATIAL_TASK(gemv_ports<DLlamaGateUp<L>>(gu_in[1], unused2, w.wu, w.su, nullptr, w.hn_scale,
                                             1.0f, up));
    SPATIAL_TASK((silu_mul_split<LlamaRowCfg<L, L::FFN>>(gate, up, w.f2_inv, 1, f2_in)));
    SPATIAL_TASK(gemv_ports<DLlamaDown<L>>(f2_in, unused3, w.wd, w.sd, nullptr, w.f2_scale,
                                           1.0f, f2));
    SPATIAL_TASK(residual<R>(f2, bypass, 1, out));
    SPATIAL_TASK(store_fp32<R>(out, 1, y, y_scale));
    SPATIAL_DATAFLOW_END
}

// One decode step of one LLaMA layer: the three region kernels joined by their links.
template <class L>
void llama_decode_layer(const float* x, int cached, ap_int<8>* k_cache, ap_int<8>* v_cache,
                        const LlamaDecodeWeights<L>& w, float* y, float* y_scale) {
    stream<pack_i8<1>> q("rope_q_to_q_buffer", L::DEPTH_rope_q_to_q_buffer);
    stream<pack_i8<1>> k("rope_k_to_k_writer", L::DEPTH_rope_k_to_k_writer);
    stream<pack_i8<1>> v("v_proj_to_v_writer", L::DEPTH_v_proj_to_v_writer);
    stream<pack_f32<1>> skip("input_loader_to_residual0", L::DEPTH_input_loader_to_residual0);
    stream<pack_f32<1>> res("residual0_to_splitter", L::DEPTH_residual0_to_splitter);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(llama_decode_region1<L>(x, x, x, cached, w, q, k, v, skip));
    SPATIAL_TASK(llama_decode_region2<L>(q, k, v, skip, cached, k_cache, v_cache, w, res));
    SPATIAL_TASK(llama_decode_region3<L>(res, w, y, y_scale));
    SPATIAL_DATAFLOW_END
}

}  // namespace spatial
