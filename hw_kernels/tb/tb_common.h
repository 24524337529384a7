// tb_common.h: testbench helpers: raw little-endian arrays written by the pytest side
// (numpy .tofile), element-wise comparison, and the trip-count dump.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ap_int.h>

#include "spatial/sim.h"

namespace tb {

template <class T>
std::vector<T> load(const std::string& dir, const std::string& name) {
    const std::string path = dir + "/" + name;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        std::fprintf(stderr, "tb: cannot open %s\n", path.c_str());
        std::exit(2);
    }
    std::vector<T> data;
    T v;
    while (std::fread(&v, sizeof(T), 1, f) == 1) data.push_back(v);
    std::fclose(f);
    return data;
}

template <class T>
void save(const std::string& dir, const std::string& name, const std::vector<T>& data) {
    const std::string path = dir + "/" + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) {
        std::fprintf(stderr, "tb: cannot write %s\n", path.c_str());
        std::exit(2);
    }
    std::fwrite(data.data(), sizeof(T), data.size(), f);
    std::fclose(f);
}

// Integer results: every element equal. Returns the number of mismatches (first few shown).
template <class A, class B>
long compare_exact(const char* what, const std::vector<A>& got, const std::vector<B>& want) {
    if (got.size() != want.size()) {
        std::printf("%s: %zu values, expected %zu\n", what, got.size(), want.size());
        return 1 + (long)want.size();
    }
    long bad = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        if ((long long)got[i] != (long long)want[i]) {
            if (bad < 5)
                std::printf("%s[%zu]: got %lld, expected %lld\n", what, i, (long long)got[i],
                            (long long)want[i]);
            ++bad;
        }
    }
    std::printf("%s: %zu values, %ld mismatches (exact)\n", what, got.size(), bad);
    return bad;
}

// fp32 results: |got - want| <= atol + rtol * |want| (infinities must match).
inline long compare_close(const char* what, const std::vector<float>& got,
                          const std::vector<float>& want, float rtol, float atol) {
    if (got.size() != want.size()) {
        std::printf("%s: %zu values, expected %zu\n", what, got.size(), want.size());
        return 1 + (long)want.size();
    }
    long bad = 0;
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const float g = got[i], w = want[i];
        // NaN or infinity in an output is a failure whatever the tolerance (a NaN error is
        // greater than no tolerance, so it must be caught before the comparison)
        if (!std::isfinite(g) || !std::isfinite(w)) {
            if (bad < 5) std::printf("%s[%zu]: got %.9g, expected %.9g (not finite)\n", what, i, g, w);
            ++bad;
            continue;
        }
        const double err = std::fabs((double)g - w);
        worst = err > worst ? err : worst;
        if (err > atol + rtol * std::fabs(w)) {
            if (bad < 5) std::printf("%s[%zu]: got %.9g, expected %.9g\n", what, i, g, w);
            ++bad;
        }
    }
    std::printf("%s: %zu values, %ld outside rtol %g atol %g (largest error %.3g)\n", what,
                got.size(), bad, rtol, atol, worst);
    return bad;
}

// Weights [K, N] (int8 values) as the array reads them: word b * K + k holds the OUTS
// weights of block b at reduction index k, output o in bits [o * W, (o + 1) * W).
template <int W, int OUTS>
std::vector<ap_uint<OUTS * W>> pack_weights(const int8_t* w, int K, int N) {
    const int blocks = (N + OUTS - 1) / OUTS;
    std::vector<ap_uint<OUTS * W>> words(blocks * K);
    for (int b = 0; b < blocks; ++b)
        for (int k = 0; k < K; ++k) {
            ap_uint<OUTS * W> word = 0;
            for (int o = 0; o < OUTS; ++o) {
                const int n = b * OUTS + o;
                word.range((o + 1) * W - 1, o * W) = ap_int<W>(n < N ? w[k * N + n] : 0);
            }
            words[b * K + k] = word;
        }
    return words;
}

inline void dump_trips(const std::string& dir) {
#ifdef SPATIAL_CSIM
    const std::string path = dir + "/trips.json";
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f) {
        spatial::print_trips(f);
        std::fclose(f);
    }
#endif
}

}  // namespace tb
