// tb_kernels.cpp: every kernel family against the golden model, one case per entry of the
// generated tb_kernels_cases.h (`CASES(X)` expands to X(runner, Config, "dir") entries).
// Each case reads its inputs and expected outputs from its directory, fails on mismatch and
// writes the loop trips it counted to trips.json. Integer outputs must match exactly; fp32
// outputs within the tolerances named below (docs/golden.md).
#include <cstring>

#include "spatial/attention.h"
#include "spatial/dataflow.h"
#include "spatial/gemv.h"
#include "spatial/kv.h"
#include "spatial/memory.h"
#include "spatial/rope.h"
#include "spatial/rowwise.h"
#include "tb_common.h"
#include "tb_gemv_weights.h"

using namespace spatial;

// ---- GEMV: x int8 [T, K], xs [T], w int8 [K, N], ws [N], bias int16 [N],
//      params (x_scale, out_inv_scale), want [T, N] ------------------------------------
template <class C>
int run_gemv(const std::string& dir) {
    using T = gemv_traits<C>;
    auto x = tb::load<int8_t>(dir, "x.bin");
    auto xs = tb::load<float>(dir, "xs.bin");
    auto w = tb::load<int8_t>(dir, "w.bin");
    auto ws = tb::load<float>(dir, "ws.bin");
    auto b16 = tb::load<int16_t>(dir, "bias.bin");
    auto params = tb::load<float>(dir, "params.bin");
    const int tokens = (int)xs.size();
    tb::GemvBeats<C> beats(w);
    const auto& ports = beats.ports;
    std::vector<ap_int<16>> bias(C::N);
    for (int n = 0; n < C::N; ++n) bias[n] = b16.empty() ? 0 : b16[n];
    stream<pack_i8<1>> in("gemv_in", 4);
    stream<pack_f32<1>> scales("gemv_scales", 4);
    stream<typename T::out_t> out("gemv_out", 4);
    std::vector<float> got_f;
    std::vector<int> got_i;
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK({
        for (int t = 0; t < tokens; ++t) {
            if (C::TOKEN_SCALES) scales.write(pack_f32<1>{{xs[t]}});
            for (int k = 0; k < C::K; ++k) {
                pack_i8<1> word;
                word.v[0] = x[t * C::K + k];
                in.write(word);
            }
        }
    });
    SPATIAL_TASK(gemv<C>(in, scales, ports[0], ports[1], ports[2], ports[3], ws.data(),
                         bias.data(), params[0], params[1], out, tokens));
    SPATIAL_TASK({
        for (int i = 0; i < tokens * C::N; ++i) {
            auto wd = out.read();
            if constexpr (C::OUT_FP32) got_f.push_back(wd.v[0]);
            else got_i.push_back((int)wd.v[0]);
        }
    });
    SPATIAL_DATAFLOW_END
    if constexpr (C::OUT_FP32)
        return tb::compare_close("gemv fp32", got_f, tb::load<float>(dir, "want.bin"), 1e-6f, 1e-6f) != 0;
    else
        return tb::compare_exact("gemv int8", got_i, tb::load<int8_t>(dir, "want.bin")) != 0;
}

// ---- prefill attention: K and V writers, Q buffer, Q.K^T, mask, softmax, softmax.V.
//      q, k, v int8 [T, H * HD]; params (qk_scale); want_probs int8 [H, T, T] (probabilities
//      as written), want_ctx int8 [T, H * HD] ------------------------------------------
template <class C>
int run_attention(const std::string& dir) {
    constexpr int P = C::P, F = C::HEADS * C::HD, KVF = KvOf<C>::F;
    auto q = tb::load<int8_t>(dir, "q.bin"), k = tb::load<int8_t>(dir, "k.bin"),
         v = tb::load<int8_t>(dir, "v.bin");
    const float qk_scale = tb::load<float>(dir, "params.bin")[0];
    const int tokens = (int)q.size() / F, packs = (tokens + P - 1) / P;
    static ap_int<8> kbuf[C::MAXL][KVF], vbuf[C::MAXL][KVF];
    static pack_i8<P> qbuf[C::MAXPACKS][F];
    std::vector<ap_int<8>> kc(C::MAXL * KVF), vc(C::MAXL * KVF);
    stream<pack_i8<P>> qs("q", 4), ks("k", 4), vs("v", 4);
    stream<bool> qd("q_done", 1), kd("k_done", 1), vd("v_done", 1);
    stream<pack_f32<P>> scores("scores", 4), masked("masked", 4), inv("inv_sum", 2 * C::HEADS);
    stream<pack_i8<P>> probs("probs", C::MAXL), ctx("ctx", 4);
    std::vector<int> got;
    auto feed = [&](stream<pack_i8<P>>& s, const std::vector<int8_t>& src, int width) {
        for (int p = 0; p < packs; ++p)
            for (int f = 0; f < width; ++f) {
                pack_i8<P> w;
                for (int r = 0; r < P; ++r) w.v[r] = p * P + r < tokens ? src[(p * P + r) * width + f] : 0;
                s.write(w);
            }
    };
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(feed(qs, q, F));
    SPATIAL_TASK(feed(ks, k, KVF));
    SPATIAL_TASK(feed(vs, v, KVF));
    SPATIAL_TASK(kv_writer<KvOf<C>>(ks, kbuf, kc.data(), 0, tokens, kd));
    SPATIAL_TASK(kv_writer<KvOf<C>>(vs, vbuf, vc.data(), 0, tokens, vd));
    SPATIAL_TASK(q_buffer<C>(qs, qbuf, packs, qd));
    SPATIAL_TASK(qk_matmul<C>(qbuf, qd, kbuf, kd, packs, tokens, qk_scale, scores));
    SPATIAL_TASK(mask<C>(scores, packs, tokens, 0, true, masked));
    SPATIAL_TASK(softmax<C>(masked, packs, tokens, probs, inv));
    SPATIAL_TASK(sv_matmul<C>(probs, inv, vbuf, vd, packs, tokens, ctx));
    SPATIAL_TASK({
        std::vector<pack_i8<P>> words;
        for (int i = 0; i < packs * F; ++i) words.push_back(ctx.read());
        for (int t = 0; t < tokens; ++t)
            for (int f = 0; f < F; ++f) got.push_back((int)words[(t / P) * F + f].v[t % P]);
    });
    SPATIAL_DATAFLOW_END
    long bad = tb::compare_exact("attention context", got, tb::load<int8_t>(dir, "want_ctx.bin"));
    bad += tb::compare_exact("k cache", std::vector<int>(kc.begin(), kc.begin() + tokens * KVF), k);
    return bad != 0;
}

// ---- decode attention: the layer's cached rows load from the off-chip cache, the new
//      token's K/V row is appended, 4 heads side by side. cache_k, cache_v int8 [c, F];
//      q, k, v int8 [F] (the new token); params (qk_scale); want_ctx int8 [F] ----------
template <class C>
int run_decode_attention(const std::string& dir) {
    constexpr int F = C::HEADS * C::HD, KVF = KvOf<C>::F;
    auto ck = tb::load<int8_t>(dir, "cache_k.bin"), cv = tb::load<int8_t>(dir, "cache_v.bin");
    auto q = tb::load<int8_t>(dir, "q.bin"), k = tb::load<int8_t>(dir, "k.bin"),
         v = tb::load<int8_t>(dir, "v.bin");
    const float qk_scale = tb::load<float>(dir, "params.bin")[0];
    const int cached = (int)ck.size() / KVF, keys = cached + 1;
    static ap_int<8> kbuf[C::MAXL][KVF], vbuf[C::MAXL][KVF];
    static pack_i8<1> qbuf[C::MAXPACKS][F];
    std::vector<ap_int<8>> kc(C::MAXL * KVF), vc(C::MAXL * KVF);
    for (int i = 0; i < cached * KVF; ++i) {
        kc[i] = ck[i];
        vc[i] = cv[i];
    }
    stream<pack_i8<1>> qs("q", 4), ks("k", 4), vs("v", 4);
    stream<bool> qd("q_done", 1), kd("k_done", 1), vd("v_done", 1);
    stream<pack_f32<1>> scores("scores", 4), masked("masked", 4), inv("inv_sum", 2 * C::HEADS);
    stream<pack_i8<1>> probs("probs", C::MAXL * C::HP), ctx("ctx", 4);
    std::vector<int> got;
    auto feed = [&](stream<pack_i8<1>>& s, const std::vector<int8_t>& src, int width) {
        for (int f = 0; f < width; ++f) s.write(pack_i8<1>{{ap_int<8>(src[f])}});
    };
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(feed(qs, q, F));
    SPATIAL_TASK(feed(ks, k, KVF));
    SPATIAL_TASK(feed(vs, v, KVF));
    SPATIAL_TASK(kv_writer<KvOf<C>>(ks, kbuf, kc.data(), cached, 1, kd));
    SPATIAL_TASK(kv_writer<KvOf<C>>(vs, vbuf, vc.data(), cached, 1, vd));
    SPATIAL_TASK(q_buffer<C>(qs, qbuf, 1, qd));
    SPATIAL_TASK(qk_gemv<C>(qbuf, qd, kbuf, kd, keys, qk_scale, scores));
    SPATIAL_TASK(mask<C>(scores, 1, keys, cached, true, masked));
    SPATIAL_TASK(softmax<C>(masked, 1, keys, probs, inv));
    SPATIAL_TASK(sv_gemv<C>(probs, inv, vbuf, vd, keys, ctx));
    SPATIAL_TASK({
        for (int f = 0; f < F; ++f) got.push_back((int)ctx.read().v[0]);
    });
    SPATIAL_DATAFLOW_END
    long bad = tb::compare_exact("decode context", got, tb::load<int8_t>(dir, "want_ctx.bin"));
    std::vector<int> appended(kc.begin() + cached * KVF, kc.begin() + keys * KVF);
    bad += tb::compare_exact("appended cache row", appended, k);
    return bad != 0;
}

// ---- fp32 row kernels: LayerNorm, GeLU (to int8), residual, splitter.
//      x, b fp32 [T, F]; gamma, beta [F]; params (gelu_inv_scale, split_inv_scale);
//      want_ln fp32, want_gelu int8, want_res fp32, want_split int8 ----------------------
template <class C>
int run_rowwise(const std::string& dir) {
    constexpr int P = C::P, F = C::F;
    auto x = tb::load<float>(dir, "x.bin"), b = tb::load<float>(dir, "b.bin");
    auto gamma = tb::load<float>(dir, "gamma.bin"), beta = tb::load<float>(dir, "beta.bin");
    auto params = tb::load<float>(dir, "params.bin");
    const int tokens = (int)x.size() / F, packs = (tokens + P - 1) / P;
    auto words = [&](const std::vector<float>& src) {
        std::vector<pack_f32<P>> out;
        for (int p = 0; p < packs; ++p)
            for (int f = 0; f < F; ++f) {
                pack_f32<P> w;
                for (int r = 0; r < P; ++r) w.v[r] = p * P + r < tokens ? src[(p * P + r) * F + f] : 0.0f;
                out.push_back(w);
            }
        return out;
    };
    auto wx = words(x), wb = words(b);
    stream<pack_f32<P>> a1("x_ln", 4), ln("ln", 4), a2("x_gelu", 4), a3("x_res", 4),
        b3("b_res", 4), res("res", 4), a4("x_split", 4), bypass("bypass", P * F),
        a5("x_rms", 4), rms("rms", 4);
    stream<pack_i8<P>> g("gelu", 4), split("split", 4), sw("swiglu", 4), sw2("swiglu_split", 4);
    stream<pack_f32<P>> gate_up("gate_up", 4), gate("gate", 4), up("up", 4);
    std::vector<float> got_ln, got_res, got_bypass, got_rms;
    std::vector<int> got_gelu, got_split, got_swiglu, got_swiglu_split;
    auto unpack_f = [&](stream<pack_f32<P>>& s, std::vector<float>& dst) {
        std::vector<pack_f32<P>> ws;
        for (int i = 0; i < packs * F; ++i) ws.push_back(s.read());
        for (int t = 0; t < tokens; ++t)
            for (int f = 0; f < F; ++f) dst.push_back(ws[(t / P) * F + f].v[t % P]);
    };
    auto unpack_i = [&](stream<pack_i8<P>>& s, std::vector<int>& dst) {
        std::vector<pack_i8<P>> ws;
        for (int i = 0; i < packs * F; ++i) ws.push_back(s.read());
        for (int t = 0; t < tokens; ++t)
            for (int f = 0; f < F; ++f) dst.push_back((int)ws[(t / P) * F + f].v[t % P]);
    };
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK({
        for (auto& w : wx) {
            a1.write(w);
            a2.write(w);
            a3.write(w);
            a4.write(w);
            a5.write(w);
        }
    });
    SPATIAL_TASK(for (auto& w : wb) b3.write(w));
    SPATIAL_TASK({  // SwiGLU input: gate (x) and up (b) words interleaved
        for (size_t i = 0; i < wx.size(); ++i) {
            gate_up.write(wx[i]);
            gate_up.write(wb[i]);
        }
    });
    SPATIAL_TASK(silu_mul<C>(gate_up, params[0], packs, sw));
    SPATIAL_TASK(unpack_i(sw, got_swiglu));
    SPATIAL_TASK(for (auto& w : wx) gate.write(w));  // separate gate and up linears
    SPATIAL_TASK(for (auto& w : wb) up.write(w));
    SPATIAL_TASK(silu_mul_split<C>(gate, up, params[0], packs, sw2));
    SPATIAL_TASK(unpack_i(sw2, got_swiglu_split));
    SPATIAL_TASK(layernorm<C>(a1, gamma.data(), beta.data(), packs, ln));
    SPATIAL_TASK((rownorm<C, true>(a5, gamma.data(), nullptr, packs, rms)));
    SPATIAL_TASK(unpack_f(rms, got_rms));
    SPATIAL_TASK(gelu<C>(a2, params[0], packs, g));
    SPATIAL_TASK(residual<C>(a3, b3, packs, res));
    SPATIAL_TASK(splitter<C>(a4, params[1], packs, split, bypass));
    SPATIAL_TASK(unpack_f(ln, got_ln));
    SPATIAL_TASK(unpack_i(g, got_gelu));
    SPATIAL_TASK(unpack_f(res, got_res));
    SPATIAL_TASK({
        unpack_i(split, got_split);
    });
    SPATIAL_DATAFLOW_END
    unpack_f(bypass, got_bypass);
    long bad = tb::compare_close("layernorm", got_ln, tb::load<float>(dir, "want_ln.bin"), 1e-5f, 1e-5f);
    bad += tb::compare_exact("gelu int8", got_gelu, tb::load<int8_t>(dir, "want_gelu.bin"));
    // RMSNorm: the same fp32 operations in the same order as the golden model: exact
    bad += tb::compare_close("rmsnorm", got_rms, tb::load<float>(dir, "want_rms.bin"), 0.0f, 0.0f);
    bad += tb::compare_close("residual", got_res, tb::load<float>(dir, "want_res.bin"), 0.0f, 0.0f);
    bad += tb::compare_exact("splitter int8", got_split, tb::load<int8_t>(dir, "want_split.bin"));
    bad += tb::compare_exact("swiglu int8", got_swiglu, tb::load<int8_t>(dir, "want_swiglu.bin"));
    bad += tb::compare_exact("swiglu split int8", got_swiglu_split,
                             tb::load<int8_t>(dir, "want_swiglu.bin"));
    bad += tb::compare_close("splitter bypass", got_bypass, x, 0.0f, 0.0f);
    return bad != 0;
}

// ---- RoPE: x fp32 [T, F] (a projection's output), cos and sin fp32 [MAXL, HD / 2];
//      params (first_position, out_inv_scale); want int8 [T, F] ------------------------
template <class C>
int run_rope(const std::string& dir) {
    constexpr int P = C::P, F = C::F;
    auto x = tb::load<float>(dir, "x.bin"), cos_t = tb::load<float>(dir, "cos.bin"),
         sin_t = tb::load<float>(dir, "sin.bin"), params = tb::load<float>(dir, "params.bin");
    const int tokens = (int)x.size() / F, packs = (tokens + P - 1) / P;
    const int first = (int)params[0];
    stream<pack_f32<P>> in("rope_in", 4);
    stream<pack_i8<P>> out("rope_out", 4);
    std::vector<pack_i8<P>> words;
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK({
        for (int p = 0; p < packs; ++p)
            for (int f = 0; f < F; ++f) {
                pack_f32<P> w;
                for (int r = 0; r < P; ++r) w.v[r] = p * P + r < tokens ? x[(p * P + r) * F + f] : 0.0f;
                in.write(w);
            }
    });
    SPATIAL_TASK(rope<C>(in, cos_t.data(), sin_t.data(), first, tokens, params[1], out));
    SPATIAL_TASK(for (int i = 0; i < packs * F; ++i) words.push_back(out.read()));
    SPATIAL_DATAFLOW_END
    std::vector<int> got;
    for (int t = 0; t < tokens; ++t)
        for (int f = 0; f < F; ++f) got.push_back((int)words[(t / P) * F + f].v[t % P]);
    return tb::compare_exact("rope int8", got, tb::load<int8_t>(dir, "want.bin")) != 0;
}

// ---- loaders and writer: x fp32 [T, F], xs [T]; want_q int8 [T, F]; want_scale [T] -----
template <class C>
int run_memory(const std::string& dir) {
    constexpr int P = C::P, F = C::F;
    auto x = tb::load<float>(dir, "x.bin"), xs = tb::load<float>(dir, "xs.bin");
    const int tokens = (int)xs.size(), packs = (tokens + P - 1) / P;
    stream<pack_f32<P>> f("fp32", 4);
    stream<pack_i8<P>> qs[2];
    stream<pack_f32<P>> scales[2];
    std::vector<float> y(tokens * F), y_scale(tokens);
    std::vector<int> got_q;
    std::vector<float> got_s;
    SPATIAL_DATAFLOW_BEGIN
    SPATIAL_TASK(load_fp32<C>(x.data(), tokens, f));
    SPATIAL_TASK(store_fp32<C>(f, tokens, y.data(), y_scale.data()));
    SPATIAL_TASK((load_int8<C, 2>(x.data(), xs.data(), tokens, qs, scales)));
    SPATIAL_TASK({
        std::vector<pack_i8<P>> ws;
        for (int p = 0; p < packs; ++p) {
            pack_f32<P> s = scales[0].read();
            for (int r = 0; r < P; ++r)
                if (p * P + r < tokens) got_s.push_back(s.v[r]);
            for (int i = 0; i < F; ++i) ws.push_back(qs[0].read());
        }
        for (int t = 0; t < tokens; ++t)
            for (int i = 0; i < F; ++i) got_q.push_back((int)ws[(t / P) * F + i].v[t % P]);
    });
    SPATIAL_TASK({
        for (int p = 0; p < packs; ++p) {
            scales[1].read();
            for (int i = 0; i < F; ++i) qs[1].read();
        }
    });
    SPATIAL_DATAFLOW_END
    long bad = tb::compare_close("writer rows", y, x, 0.0f, 0.0f);
    bad += tb::compare_close("writer scales", y_scale, xs, 0.0f, 0.0f);
    bad += tb::compare_exact("loader int8", got_q, tb::load<int8_t>(dir, "want_q.bin"));
    bad += tb::compare_close("loader scales", got_s, xs, 0.0f, 0.0f);
    return bad != 0;
}

#include "tb_kernels_cases.h"

// The comparison itself: a NaN or an infinity in an output fails even at zero tolerance.
static int check_compare_close() {
    const float nan = std::nanf(""), inf = INFINITY;
    const long n = tb::compare_close("self-check nan", {1.0f, nan}, {1.0f, 2.0f}, 1.0f, 1.0f);
    const long i = tb::compare_close("self-check inf", {inf}, {inf}, 0.0f, 0.0f);
    const long ok = tb::compare_close("self-check finite", {1.0f}, {1.0f}, 0.0f, 0.0f);
    const bool good = n == 1 && i == 1 && ok == 0;
    std::printf("compare_close self-check %s\n", good ? "passed" : "FAILED");
    return good ? 0 : 1;
}

int main() {
    int failed = check_compare_close();
#define RUN(RUNNER, C, DIR)                      \
    {                                            \
        spatial::reset_trips();                  \
        const int f = RUNNER<C>(DIR);            \
        tb::dump_trips(DIR);                     \
        if (f) std::printf("case %s FAILED\n", DIR); \
        failed += f;                             \
    }
    CASES(RUN)
#undef RUN
    std::printf(failed ? "FAILED %d case(s)\n" : "all cases passed\n", failed);
    return failed ? 1 : 0;
}
