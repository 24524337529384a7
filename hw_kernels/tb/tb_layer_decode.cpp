// tb_layer_decode.cpp: one decode step of a whole layer (the three GEMV-bitstream regions
// chained) against the numpy layer given the same KV cache. The configuration is the
// config.h `spatialsim export-hls` writes for the decode bitstream.
//
// Case directory (argv[1]): the files of tb_layer.cpp for one token, plus cache_k.bin and
// cache_v.bin (int8 [cached, D]). Exit status: 0 match, 1 mismatch, 3 deadlock.
#include <cstdio>
#include <string>

#include "config.h"
#include "spatial/regions.h"
#include "spatial/regions_decode.h"
#include "tb_common.h"
#include "tb_gemv_weights.h"

using L = LayerConfig;
using namespace spatial;

template <class C>
using Beats = tb::EngineBeats<C>;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: tb_layer_decode CASE_DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    auto x = tb::load<float>(dir, "x.bin");
    auto xs = tb::load<float>(dir, "xs.bin");
    auto ck = tb::load<int8_t>(dir, "cache_k.bin"), cv = tb::load<int8_t>(dir, "cache_v.bin");
    const int cached = (int)ck.size() / L::D;
    Beats<DQkv<L>> wq(tb::load<int8_t>(dir, "wq.bin")), wk(tb::load<int8_t>(dir, "wk.bin")),
        wv(tb::load<int8_t>(dir, "wv.bin"));
    Beats<DOut<L>> wo(tb::load<int8_t>(dir, "wo.bin"));
    Beats<DFfn1<L>> w1(tb::load<int8_t>(dir, "w1.bin"));
    Beats<DFfn2<L>> w2(tb::load<int8_t>(dir, "w2.bin"));
    auto scales = tb::load<float>(dir, "scales.bin");
    auto b16 = tb::load<int16_t>(dir, "biases.bin");
    std::vector<ap_int<16>> biases(b16.begin(), b16.end());
    auto norms = tb::load<float>(dir, "norms.bin");
    auto c = tb::load<float>(dir, "consts.bin");
    // the same buffer layouts as the prefill layer (regions.h ParamLayout, NUM_CONSTS)
    constexpr int D = L::D, F = L::FFN;
    DecodeWeights<L> w;
    w.wq = wq.ports; w.wk = wk.ports; w.wv = wv.ports; w.wo = wo.ports;
    w.w1 = w1.ports; w.w2 = w2.ports;
    w.sq = &scales[0]; w.sk = &scales[D]; w.sv = &scales[2 * D]; w.so = &scales[3 * D];
    w.s1 = &scales[4 * D]; w.s2 = &scales[4 * D + F];
    w.bq = &biases[0]; w.bk = &biases[D]; w.bv = &biases[2 * D]; w.bo = &biases[3 * D];
    w.b1 = &biases[4 * D]; w.b2 = &biases[4 * D + F];
    w.ln0_gamma = &norms[0]; w.ln0_beta = &norms[D];
    w.ln1_gamma = &norms[2 * D]; w.ln1_beta = &norms[3 * D];
    w.q_inv = c[0]; w.k_inv = c[1]; w.v_inv = c[2]; w.qk_scale = c[3]; w.v_scale = c[4];
    w.f1_scale = c[5]; w.f1_inv = c[6]; w.f2_scale = c[7]; w.f2_inv = c[8];
    std::vector<ap_int<8>> k_cache(L::MAXL * D), v_cache(L::MAXL * D);
    for (int i = 0; i < cached * D; ++i) {
        k_cache[i] = ck[i];
        v_cache[i] = cv[i];
    }
    std::vector<float> y(D), y_scale(1);
    try {
        decode_layer<L>(x.data(), xs.data(), cached, k_cache.data(), v_cache.data(), w,
                        y.data(), y_scale.data());
    } catch (const Deadlock& e) {
        std::printf("DEADLOCK: every process of the layer is blocked:\n%s", e.what());
        return 3;
    }
    // the golden model's operations in its order: exact
    long bad = tb::compare_close("decode layer output", y, tb::load<float>(dir, "want.bin"),
                                 0.0f, 0.0f);
    auto want_k = tb::load<int8_t>(dir, "want_k.bin");
    std::vector<int> new_k(k_cache.begin() + cached * D, k_cache.begin() + (cached + 1) * D);
    bad += tb::compare_exact("appended K row", new_k, want_k);
    tb::save(dir, "got.bin", y);
    tb::dump_trips(dir);
    std::printf(bad ? "FAILED\n" : "all cases passed\n");
    return bad ? 1 : 0;
}
