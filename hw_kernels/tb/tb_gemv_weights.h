// tb_gemv_weights.h: weights [K, N] (int8 values, row-major) laid out as GEMV engine beats:
// engine e's beat for pass q at reduction index k holds outputs
// (q * ENGINES + e) * PES * 2 + lane, two int8 per PE, stored at
// gemv_traits<C>::beat_index(q, k) (the order the kernel's loop order consumes them).
#pragma once

#include <cstdint>
#include <vector>

#include "spatial/gemv.h"

namespace tb {

template <class C>
struct GemvBeats {
    using beat = typename spatial::gemv_traits<C>::beat;
    std::vector<std::vector<beat>> data;
    const beat* ports[4] = {nullptr, nullptr, nullptr, nullptr};

    explicit GemvBeats(const std::vector<int8_t>& w) {
        using T = spatial::gemv_traits<C>;
        data.assign(C::ENGINES, std::vector<beat>(T::PASSES * C::K));
        for (int q = 0; q < T::PASSES; ++q)
            for (int e = 0; e < C::ENGINES; ++e)
                for (int k = 0; k < C::K; ++k) {
                    beat b = 0;
                    for (int j = 0; j < C::PES; ++j)
                        for (int h = 0; h < 2; ++h) {
                            const int n = (q * C::ENGINES + e) * T::OUTS_E + 2 * j + h;
                            b.range(16 * j + 8 * h + 7, 16 * j + 8 * h) =
                                ap_int<8>(n < C::N ? w[k * C::N + n] : 0);
                        }
                    data[e][T::beat_index(q, k)] = b;
                }
        for (int e = 0; e < C::ENGINES; ++e) ports[e] = data[e].data();
    }
};

// The same beats as the EnginePorts a GEMV region takes.
template <class C>
struct EngineBeats : GemvBeats<C> {
    spatial::EnginePorts<C> ports;
    explicit EngineBeats(const std::vector<int8_t>& w) : GemvBeats<C>(w) {
        for (int e = 0; e < 4; ++e) ports.e[e] = GemvBeats<C>::ports[e];
    }
};

}  // namespace tb
