// tb_layer_llama_decode.cpp: one decode step of a LLaMA-family layer through the GEMV
// bitstream's regions (regions_llama_decode.h), against the numpy layer
// (spatialsim.golden.llama_layer) given the same K/V cache. The configuration is the
// config.h `spatialsim export-hls` writes for a chen2024-llama-w8a8 decode bitstream.
//
// Case directory (argv[1]): the files of tb_layer_llama.cpp for one token (first.bin is the
// number of cached tokens). Exit status: 0 match, 1 mismatch, 3 deadlock.
#include <cstdio>
#include <string>

#include "config.h"
#include "spatial/regions_llama_decode.h"
#include "tb_common.h"
#include "tb_gemv_weights.h"

using L = LayerConfig;
using namespace spatial;

template <class C>
using Beats = tb::EngineBeats<C>;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: tb_layer_llama_decode CASE_DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    auto x = tb::load<float>(dir, "x.bin");
    const int cached = tb::load<int32_t>(dir, "first.bin")[0];
    Beats<DLlamaQ<L>> wq(tb::load<int8_t>(dir, "wq.bin"));
    Beats<DLlamaK<L>> wk(tb::load<int8_t>(dir, "wk.bin"));
    Beats<DLlamaV<L>> wv(tb::load<int8_t>(dir, "wv.bin"));
    Beats<DLlamaO<L>> wo(tb::load<int8_t>(dir, "wo.bin"));
    Beats<DLlamaGateUp<L>> wg(tb::load<int8_t>(dir, "wg.bin")), wu(tb::load<int8_t>(dir, "wu.bin"));
    Beats<DLlamaDown<L>> wd(tb::load<int8_t>(dir, "wd.bin"));
    auto scales = tb::load<float>(dir, "scales.bin");
    auto norms = tb::load<float>(dir, "norms.bin");
    auto rope_table = tb::load<float>(dir, "rope.bin");
    auto consts = tb::load<float>(dir, "consts.bin");
    LlamaDecodeWeights<L> w;
    w.wq = wq.ports; w.wk = wk.ports; w.wv = wv.ports; w.wo = wo.ports;
    w.wg = wg.ports; w.wu = wu.ports; w.wd = wd.ports;
    bind_llama_scalars<L>(w, scales.data(), norms.data(), rope_table.data(), consts.data());
    std::vector<ap_int<8>> k_cache(L::MAXL * L::KVD), v_cache(L::MAXL * L::KVD);
    auto ck = tb::load<int8_t>(dir, "cache_k.bin"), cv = tb::load<int8_t>(dir, "cache_v.bin");
    for (size_t i = 0; i < ck.size(); ++i) {
        k_cache[i] = ck[i];
        v_cache[i] = cv[i];
    }
    std::vector<float> y(L::D), y_scale(1);
    try {
        llama_decode_layer<L>(x.data(), cached, k_cache.data(), v_cache.data(), w, y.data(),
                              y_scale.data());
    } catch (const Deadlock& e) {
        std::printf("DEADLOCK: every process of the layer is blocked:\n%s", e.what());
        return 3;
    }
    long bad = tb::compare_close("layer output", y, tb::load<float>(dir, "want.bin"), 0.0f, 0.0f);
    std::vector<int> appended(k_cache.begin() + cached * L::KVD,
                              k_cache.begin() + (cached + 1) * L::KVD);
    bad += tb::compare_exact("appended K row (after RoPE)", appended,
                             tb::load<int8_t>(dir, "want_k.bin"));
    tb::save(dir, "got.bin", y);
    tb::dump_trips(dir);
    std::printf(bad ? "FAILED\n" : "all cases passed\n");
    return bad ? 1 : 0;
}
