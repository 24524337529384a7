// tb_linear.cpp: the systolic linear against the golden model, one case per config struct
// of the generated header (tb_linear_cases.h defines `CASES(X)` as X(Config, "dir") ...).
//
// Inputs per case directory: x.bin (int8 [T, K]), xs.bin (fp32 [T] token scales),
// w.bin (int8 [K, N] weight values), ws.bin (fp32 [N]), bias.bin (int16 [N]),
// params.bin (fp32: x_scale, out_inv_scale), want.bin (int32 [T, N] as fp32 bits or int8).
#include <cstring>

#include "spatial/dataflow.h"
#include "spatial/linear.h"
#include "tb_common.h"
#include "tb_linear_cases.h"

template <class C>
int run_case(const std::string& dir) {
    using namespace spatial;
    using T = linear_traits<C>;
    constexpr int P = C::P, K = C::K, N = C::N, OUTS = T::OUTS;
    auto x = tb::load<int8_t>(dir, "x.bin");
    auto xs = tb::load<float>(dir, "xs.bin");
    auto w = tb::load<int8_t>(dir, "w.bin");
    auto ws = tb::load<float>(dir, "ws.bin");
    auto bias16 = tb::load<int16_t>(dir, "bias.bin");
    auto params = tb::load<float>(dir, "params.bin");
    const int tokens = (int)xs.size();
    const int packs = (tokens + P - 1) / P;
    // weights: word b*K + k, output o of block b at bits [o*W, (o+1)*W)
    std::vector<typename T::wword> words(T::BLOCKS * K);
    for (int b = 0; b < T::BLOCKS; ++b)
        for (int k = 0; k < K; ++k) {
            typename T::wword word = 0;
            for (int o = 0; o < OUTS; ++o) {
                const int n = b * OUTS + o;
                const int v = n < N ? w[k * N + n] : 0;
                word.range((o + 1) * C::W_BITS - 1, o * C::W_BITS) = ap_int<C::W_BITS>(v);
            }
            words[b * K + k] = word;
        }
    std::vector<ap_int<16>> bias(N);
    for (int n = 0; n < N; ++n) bias[n] = bias16.empty() ? 0 : bias16[n];
    stream<pack_i8<P>> in("linear_in", 4);
    stream<pack_f32<P>> scales("linear_scales", 4);
    stream<typename T::out_t> out("linear_out", 4);
    std::vector<float> got_f;
    std::vector<int> got_i;
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK({
        for (int p = 0; p < packs; ++p) {
            pack_f32<P> s;
            for (int r = 0; r < P; ++r) s.v[r] = p * P + r < tokens ? xs[p * P + r] : 1.0f;
            if (C::TOKEN_SCALES) scales.write(s);
            for (int k = 0; k < K; ++k) {
                pack_i8<P> word;
                for (int r = 0; r < P; ++r) word.v[r] = p * P + r < tokens ? x[(p * P + r) * K + k] : 0;
                in.write(word);
            }
        }
    });
    SPATIAL_TASK(linear<C>(in, scales, words.data(), ws.data(), bias.data(), params[0], params[1],
                           out, packs));
    SPATIAL_TASK({
        std::vector<typename T::out_t> words_out;
        for (int i = 0; i < packs * N; ++i) words_out.push_back(out.read());
        for (int t = 0; t < tokens; ++t)
            for (int n = 0; n < N; ++n) {
                const auto& wd = words_out[(t / P) * N + n];
                if constexpr (C::OUT_FP32) got_f.push_back(wd.v[t % P]);
                else got_i.push_back((int)wd.v[t % P]);
            }
    });
    SPATIAL_DATAFLOW_END
    long bad;
    if constexpr (C::OUT_FP32) {
        bad = tb::compare_close("linear fp32", got_f, tb::load<float>(dir, "want.bin"), 1e-6f, 1e-6f);
    } else {
        bad = tb::compare_exact("linear int8", got_i, tb::load<int8_t>(dir, "want.bin"));
    }
    tb::dump_trips(dir);
    spatial::reset_trips();
    return bad == 0 ? 0 : 1;
}

int main() {
    int failed = 0;
#define RUN(C, DIR) failed += run_case<C>(DIR);
    CASES(RUN)
#undef RUN
    std::printf(failed ? "FAILED %d case(s)\n" : "all cases passed\n", failed);
    return failed ? 1 : 0;
}
