// tb_layer.cpp: one whole transformer layer, the three region kernels chained through their
// links, against the numpy layer (spatialsim.golden.layer) with the same quantisation.
// The configuration is the config.h that `spatialsim export-hls` writes for the design.
//
// Case directory (argv[1]): x.bin (fp32 [T, D]), xs.bin (fp32 [T]), wq/wk/wv/wo/w1/w2.bin
// (int8 values, [K, N]), scales.bin, biases.bin (int16), norms.bin, consts.bin (layouts in
// regions.h: ParamLayout, NUM_CONSTS), want.bin (fp32 [T, D]), want_scale.bin (fp32 [T]).
// Exit status: 0 match, 1 mismatch, 3 deadlock (the report names the streams).
#include <cstdio>
#include <string>

#include "config.h"
#include "spatial/regions.h"
#include "tb_common.h"

using L = LayerConfig;

int main(int argc, char** argv) {
    using namespace spatial;
    if (argc < 2) {
        std::fprintf(stderr, "usage: tb_layer CASE_DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    auto x = tb::load<float>(dir, "x.bin");
    auto xs = tb::load<float>(dir, "xs.bin");
    const int tokens = (int)xs.size();
    constexpr int QO = L::QKVO_COLS * 2, FO = L::FFN_COLS * 2;
    auto wq = tb::load<int8_t>(dir, "wq.bin"), wk = tb::load<int8_t>(dir, "wk.bin"),
         wv = tb::load<int8_t>(dir, "wv.bin"), wo = tb::load<int8_t>(dir, "wo.bin"),
         w1 = tb::load<int8_t>(dir, "w1.bin"), w2 = tb::load<int8_t>(dir, "w2.bin");
    auto pq = tb::pack_weights<L::W_BITS, QO>(wq.data(), L::D, L::D);
    auto pk = tb::pack_weights<L::W_BITS, QO>(wk.data(), L::D, L::D);
    auto pv = tb::pack_weights<L::W_BITS, QO>(wv.data(), L::D, L::D);
    auto po = tb::pack_weights<L::W_BITS, QO>(wo.data(), L::D, L::D);
    auto p1 = tb::pack_weights<L::W_BITS, FO>(w1.data(), L::D, L::FFN);
    auto p2 = tb::pack_weights<L::W_BITS, FO>(w2.data(), L::FFN, L::D);
    auto scales = tb::load<float>(dir, "scales.bin");
    auto biases16 = tb::load<int16_t>(dir, "biases.bin");
    std::vector<ap_int<16>> biases(biases16.begin(), biases16.end());
    auto norms = tb::load<float>(dir, "norms.bin");
    auto consts = tb::load<float>(dir, "consts.bin");
    LayerWeights<L> w = bind_weights<L>(pq.data(), pk.data(), pv.data(), po.data(), p1.data(),
                                        p2.data(), scales.data(), biases.data(), norms.data(),
                                        consts.data());
    std::vector<ap_int<8>> k_cache(L::MAXL * L::D), v_cache(L::MAXL * L::D);
    std::vector<float> y(tokens * L::D), y_scale(tokens);
    try {
        layer<L>(x.data(), xs.data(), tokens, 0, k_cache.data(), v_cache.data(), w, y.data(),
                 y_scale.data());
    } catch (const Deadlock& e) {
        std::printf("DEADLOCK: every process of the layer is blocked:\n%s", e.what());
        return 3;
    }
    // every operation is the golden model's, in its order: the output and its per-token
    // scales are exact
    long bad = tb::compare_close("layer output", y, tb::load<float>(dir, "want.bin"), 0.0f,
                                 0.0f);
    bad += tb::compare_close("output scales", y_scale, tb::load<float>(dir, "want_scale.bin"),
                             0.0f, 0.0f);
    tb::save(dir, "got.bin", y);
    tb::dump_trips(dir);
    std::printf(bad ? "FAILED\n" : "all cases passed\n");
    return bad ? 1 : 0;
}
