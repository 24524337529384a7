// tb_layer_llama.cpp: one LLaMA-family layer, the three region kernels of regions_llama.h
// chained through their links, against the numpy layer (spatialsim.golden.llama_layer) with
// the same quantisation. The configuration is the config.h `spatialsim export-hls` writes
// for a chen2024-llama design.
//
// Case directory (argv[1]): x.bin (fp32 [T, D]), wq/wk/wv/wo/wg/wu/wd.bin (int8 values,
// [K, N]), scales.bin, norms.bin, rope.bin, consts.bin (layouts in regions_llama.h:
// LlamaLayout, LLAMA_NUM_CONSTS), first.bin (int32: the first token's position, 0 for a
// prompt), cache_k.bin / cache_v.bin (int8 [first, KVD]: the cached rows of a decode step),
// want.bin (fp32 [T, D]), want_k.bin (int8 [T, KVD]: the rows the step appends).
// Exit status: 0 match, 1 mismatch, 3 deadlock (the report names the streams).
#include <cstdio>
#include <string>

#include "config.h"
#include "spatial/regions_llama.h"
#include "tb_common.h"

using L = LayerConfig;

int main(int argc, char** argv) {
    using namespace spatial;
    if (argc < 2) {
        std::fprintf(stderr, "usage: tb_layer_llama CASE_DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    auto x = tb::load<float>(dir, "x.bin");
    const int tokens = (int)x.size() / L::D;
    const int first = tb::load<int32_t>(dir, "first.bin")[0];
    constexpr int QO = L::QKVO_COLS * 2, FO = L::FFN_COLS * 2;
    auto wq = tb::load<int8_t>(dir, "wq.bin"), wk = tb::load<int8_t>(dir, "wk.bin"),
         wv = tb::load<int8_t>(dir, "wv.bin"), wo = tb::load<int8_t>(dir, "wo.bin"),
         wg = tb::load<int8_t>(dir, "wg.bin"), wu = tb::load<int8_t>(dir, "wu.bin"),
         wd = tb::load<int8_t>(dir, "wd.bin");
    auto pq = tb::pack_weights<L::W_BITS, QO>(wq.data(), L::D, L::D);
    auto pk = tb::pack_weights<L::W_BITS, QO>(wk.data(), L::D, L::KVD);
    auto pv = tb::pack_weights<L::W_BITS, QO>(wv.data(), L::D, L::KVD);
    auto po = tb::pack_weights<L::W_BITS, QO>(wo.data(), L::D, L::D);
    auto pg = tb::pack_weights<L::W_BITS, FO>(wg.data(), L::D, L::FFN);
    auto pu = tb::pack_weights<L::W_BITS, FO>(wu.data(), L::D, L::FFN);
    auto pd = tb::pack_weights<L::W_BITS, FO>(wd.data(), L::FFN, L::D);
    auto scales = tb::load<float>(dir, "scales.bin");
    auto norms = tb::load<float>(dir, "norms.bin");
    auto rope_table = tb::load<float>(dir, "rope.bin");
    auto consts = tb::load<float>(dir, "consts.bin");
    LlamaWeights<L> w = bind_llama_weights<L>(pq.data(), pk.data(), pv.data(), po.data(),
                                              pg.data(), pu.data(), pd.data(), scales.data(),
                                              norms.data(), rope_table.data(), consts.data());
    std::vector<ap_int<8>> k_cache(L::MAXL * L::KVD), v_cache(L::MAXL * L::KVD);
    if (first > 0) {
        auto ck = tb::load<int8_t>(dir, "cache_k.bin"), cv = tb::load<int8_t>(dir, "cache_v.bin");
        for (size_t i = 0; i < ck.size(); ++i) {
            k_cache[i] = ck[i];
            v_cache[i] = cv[i];
        }
    }
    std::vector<float> y(tokens * L::D), y_scale(tokens);
    try {
        llama_layer<L>(x.data(), tokens, first, k_cache.data(), v_cache.data(), w, y.data(),
                       y_scale.data());
    } catch (const Deadlock& e) {
        std::printf("DEADLOCK: every process of the layer is blocked:\n%s", e.what());
        return 3;
    }
    // every operation is the golden model's, in its order: the output is exact
    long bad = tb::compare_close("layer output", y, tb::load<float>(dir, "want.bin"), 0.0f, 0.0f);
    std::vector<int> appended(k_cache.begin() + first * L::KVD,
                              k_cache.begin() + (first + tokens) * L::KVD);
    bad += tb::compare_exact("appended K rows (after RoPE)", appended,
                             tb::load<int8_t>(dir, "want_k.bin"));
    tb::save(dir, "got.bin", y);
    tb::dump_trips(dir);
    std::printf(bad ? "FAILED\n" : "all cases passed\n");
    return bad ? 1 : 0;
}
