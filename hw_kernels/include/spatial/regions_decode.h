// regions_decode.h: the three region kernels of the decode (GEMV) bitstream, one token per
// launch, and the whole decode layer for C simulation (chen2024.md 3.3).
//
//   R1 (SLR0): input loaders, Q / K / V GEMV engines
//   R2 (SLR1): K / V writers (the layer's cached rows come from the off-chip cache first),
//              Q buffer, decode attention (HP heads side by side), mask, softmax, output
//              projection GEMV, residual 0, LayerNorm 0
//   R3 (SLR2): splitter, FFN1 GEMV, GeLU, FFN2 GEMV, residual 1, LayerNorm 1, output writer
//
// L is the configuration `spatialsim export-hls` writes for the decode bitstream (P = 1,
// PES, ENGINES_QKVO, ENGINES_FFN, HP, LANES and DEPTH_<fifo> for every FIFO).
#pragma once

#include "spatial/attention.h"
#include "spatial/dataflow.h"
#include "spatial/gemv.h"
#include "spatial/kv.h"
#include "spatial/memory.h"
#include "spatial/regions.h"
#include "spatial/rowwise.h"

namespace spatial {

template <class L, int K_, int N_, int ENGINES_, bool FP32_, bool TOKEN_SCALES_>
struct GemvCfg {
    static constexpr int K = K_, N = N_, ENGINES = ENGINES_, PES = L::PES, PACK = 2;
    static constexpr bool OUT_FP32 = FP32_, HAS_BIAS = L::BIAS, TOKEN_SCALES = TOKEN_SCALES_,
                          COLUMN = L::GEMV_COLUMN;
};

template <class L>
struct DecodeAttnCfg {
    static constexpr int P = 1, HEADS = L::H, HD = L::HD, HP = L::HP, LANES = L::LANES,
                         MAXL = L::MAXL, MAXPACKS = 1, F = L::D;
    static constexpr bool BUFFERED = L::SOFTMAX_BUFFERED;
};

template <class L>
struct DecodeRowCfg {
    static constexpr int P = 1, F = L::D, MAXL = L::MAXL, MAXPACKS = 1;
    static constexpr float EPS = 1e-5f;
};

template <class L>
struct DecodeFfnRowCfg {
    static constexpr int P = 1, F = L::FFN;
};

template <class L>
using DQkv = GemvCfg<L, L::D, L::D, L::ENGINES_QKVO, false, true>;
template <class L>
using DOut = GemvCfg<L, L::D, L::D, L::ENGINES_QKVO, true, false>;
template <class L>
using DFfn1 = GemvCfg<L, L::D, L::FFN, L::ENGINES_FFN, true, false>;
template <class L>
using DFfn2 = GemvCfg<L, L::FFN, L::D, L::ENGINES_FFN, true, false>;

template <class L>
struct DecodeWeights {
    EnginePorts<DQkv<L>> wq, wk, wv;
    EnginePorts<DOut<L>> wo;
    EnginePorts<DFfn1<L>> w1;
    EnginePorts<DFfn2<L>> w2;
    const float *sq, *sk, *sv, *so, *s1, *s2;
    const ap_int<16> *bq, *bk, *bv, *bo, *b1, *b2;
    const float *ln0_gamma, *ln0_beta, *ln1_gamma, *ln1_beta;
    float q_inv, k_inv, v_inv, qk_scale, v_scale, f1_scale, f1_inv, f2_scale, f2_inv;
};

template <class C>
void gemv_ports(stream<pack_i8<1>>& in, stream<pack_f32<1>>& scales, const EnginePorts<C>& w,
                const float* ws, const ap_int<16>* bias, float x_scale, float out_inv,
                stream<typename gemv_traits<C>::out_t>& out) {
    gemv<C>(in, scales, w.e[0], w.e[1], w.e[2], w.e[3], ws, bias, x_scale, out_inv, out, 1);
}

template <class L>
void decode_region1(const float* x, const float* x_q, const float* x_kv, const float* x_scale,
                    const DecodeWeights<L>& w, stream<pack_i8<1>>& q_out,
                    stream<pack_i8<1>>& k_out, stream<pack_i8<1>>& v_out,
                    stream<pack_f32<1>>& skip_out) {
#pragma HLS DATAFLOW
    using R = DecodeRowCfg<L>;
    stream<pack_i8<1>> q_in[1], kv_in[2];
    stream<pack_f32<1>> q_scale[1], kv_scale[2];
    SPATIAL_STREAM_DEPTH(q_in[0], L::DEPTH_input_loader_q_to_q_proj);
    SPATIAL_STREAM_DEPTH(kv_in[0], L::DEPTH_input_loader_kv_to_k_proj);
    SPATIAL_STREAM_DEPTH(kv_in[1], L::DEPTH_input_loader_kv_to_v_proj);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(load_fp32<R>(x, 1, skip_out));
    SPATIAL_TASK(load_int8<R, 1>(x_q, x_scale, 1, q_in, q_scale));
    SPATIAL_TASK(load_int8<R, 2>(x_kv, x_scale, 1, kv_in, kv_scale));
    SPATIAL_TASK(gemv_ports<DQkv<L>>(q_in[0], q_scale[0], w.wq, w.sq, w.bq, 1.0f, w.q_inv,
                                     q_out));
    SPATIAL_TASK(gemv_ports<DQkv<L>>(kv_in[0], kv_scale[0], w.wk, w.sk, w.bk, 1.0f, w.k_inv,
                                     k_out));
    SPATIAL_TASK(gemv_ports<DQkv<L>>(kv_in[1], kv_scale[1], w.wv, w.sv, w.bv, 1.0f, w.v_inv,
                                     v_out));
    SPATIAL_DATAFLOW_END
}

template <class L>
void decode_region2(stream<pack_i8<1>>& q_in, stream<pack_i8<1>>& k_in,
                    stream<pack_i8<1>>& v_in, stream<pack_f32<1>>& skip_in, int cached,
                    ap_int<8>* k_cache, ap_int<8>* v_cache, const DecodeWeights<L>& w,
                    stream<pack_f32<1>>& ln0_out) {
#pragma HLS DATAFLOW
    using A = DecodeAttnCfg<L>;
    using R = DecodeRowCfg<L>;
    const int keys = cached + 1;
    static ap_int<8> kbuf[L::MAXL][L::D], vbuf[L::MAXL][L::D];
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
    stream<pack_f32<1>> res("residual0_to_layernorm0", L::DEPTH_residual0_to_layernorm0);
#pragma HLS STREAM variable = res depth = SPATIAL_DEPTH_residual0_to_layernorm0
    stream<pack_f32<1>> unused("unused_scale", 1);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(kv_writer<R>(k_in, kbuf, k_cache, cached, 1, k_done));
    SPATIAL_TASK(kv_writer<R>(v_in, vbuf, v_cache, cached, 1, v_done));
    SPATIAL_TASK(q_buffer<R>(q_in, qbuf, 1, q_done));
    SPATIAL_TASK(qk_gemv<A>(qbuf, q_done, kbuf, k_done, keys, w.qk_scale, scores));
    SPATIAL_TASK(mask<A>(scores, 1, keys, cached, L::CAUSAL, masked));
    SPATIAL_TASK(softmax<A>(masked, 1, keys, probs, inv_sum));
    SPATIAL_TASK(sv_gemv<A>(probs, inv_sum, vbuf, v_done, keys, ctx));
    SPATIAL_TASK(gemv_ports<DOut<L>>(ctx, unused, w.wo, w.so, w.bo, w.v_scale, 1.0f, o));
    SPATIAL_TASK(residual<R>(o, skip_in, 1, res));
    SPATIAL_TASK((rownorm<R, uses_rmsnorm<L>::value>(res, w.ln0_gamma, w.ln0_beta, 1, ln0_out)));
    SPATIAL_DATAFLOW_END
}

template <class L>
void decode_region3(stream<pack_f32<1>>& ln0_in, const DecodeWeights<L>& w, float* y,
                    float* y_scale) {
#pragma HLS DATAFLOW
    using R = DecodeRowCfg<L>;
    stream<pack_i8<1>> f1_in("splitter_to_ffn1", L::DEPTH_splitter_to_ffn1);
#pragma HLS STREAM variable = f1_in depth = SPATIAL_DEPTH_splitter_to_ffn1
    stream<pack_f32<1>> bypass("ffn_residual_bypass", L::DEPTH_ffn_residual_bypass);
#pragma HLS STREAM variable = bypass depth = SPATIAL_DEPTH_ffn_residual_bypass
    stream<pack_f32<1>> f1("ffn1_to_gelu", L::DEPTH_ffn1_to_gelu);
#pragma HLS STREAM variable = f1 depth = SPATIAL_DEPTH_ffn1_to_gelu
    stream<pack_i8<1>> f2_in("gelu_to_ffn2", L::DEPTH_gelu_to_ffn2);
#pragma HLS STREAM variable = f2_in depth = SPATIAL_DEPTH_gelu_to_ffn2
    stream<pack_f32<1>> f2("ffn2_to_residual1", L::DEPTH_ffn2_to_residual1);
#pragma HLS STREAM variable = f2 depth = SPATIAL_DEPTH_ffn2_to_residual1
    stream<pack_f32<1>> res("residual1_to_layernorm1", L::DEPTH_residual1_to_layernorm1);
#pragma HLS STREAM variable = res depth = SPATIAL_DEPTH_residual1_to_layernorm1
    stream<pack_f32<1>> out("layernorm1_to_output_writer",
                            L::DEPTH_layernorm1_to_output_writer);
#pragma HLS STREAM variable = out depth = SPATIAL_DEPTH_layernorm1_to_output_writer
    stream<pack_f32<1>> unused1("unused_scale1", 1), unused2("unused_scale2", 1);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(splitter<R>(ln0_in, w.f1_inv, 1, f1_in, bypass));
    SPATIAL_TASK(gemv_ports<DFfn1<L>>(f1_in, unused1, w.w1, w.s1, w.b1, w.f1_scale, 1.0f, f1));
    SPATIAL_TASK(gelu<DecodeFfnRowCfg<L>>(f1, w.f2_inv, 1, f2_in));
    SPATIAL_TASK(gemv_ports<DFfn2<L>>(f2_in, unused2, w.w2, w.s2, w.b2, w.f2_scale, 1.0f, f2));
    SPATIAL_TASK(residual<R>(f2, bypass, 1, res));
    SPATIAL_TASK((rownorm<R, uses_rmsnorm<L>::value>(res, w.ln1_gamma, w.ln1_beta, 1, out)));
    SPATIAL_TASK(store_fp32<R>(out, 1, y, y_scale));
    SPATIAL_DATAFLOW_END
}

// One decode step of one layer: the three region kernels joined by their links.
template <class L>
void decode_layer(const float* x, const float* x_scale, int cached, ap_int<8>* k_cache,
                  ap_int<8>* v_cache, const DecodeWeights<L>& w, float* y, float* y_scale) {
    stream<pack_i8<1>> q("q_proj_to_q_buffer", L::DEPTH_q_proj_to_q_buffer);
    stream<pack_i8<1>> k("k_proj_to_k_writer", L::DEPTH_k_proj_to_k_writer);
    stream<pack_i8<1>> v("v_proj_to_v_writer", L::DEPTH_v_proj_to_v_writer);
    stream<pack_f32<1>> skip("input_loader_to_residual0", L::DEPTH_input_loader_to_residual0);
    stream<pack_f32<1>> ln0("layernorm0_to_splitter", L::DEPTH_layernorm0_to_splitter);
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(decode_region1<L>(x, x, x, x_scale, w, q, k, v, skip));
    SPATIAL_TASK(decode_region2<L>(q, k, v, skip, cached, k_cache, v_cache, w, ln0));
    SPATIAL_TASK(decode_region3<L>(ln0, w, y, y_scale));
    SPATIAL_DATAFLOW_END
}

}  // namespace spatial
