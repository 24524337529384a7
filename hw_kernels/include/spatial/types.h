// types.h: the words that travel on streams, and common sizes.
//
// A word carries one feature of every token of a pack (chen2024.md 3: P = 8 tokens, so 64
// bits of int8 or 256 bits of fp32). Weights are int4 or int8 (ap_int<W>).
#pragma once

#include <ap_int.h>

namespace spatial {

template <int P>
struct pack_i8 {
    ap_int<8> v[P];
};

template <int P>
struct pack_f32 {
    float v[P];
};

// Round half away from zero in fp32 and saturate to +-(2^(B-1) - 1): the golden model's
// spatialsim.golden.quant.round_away and saturate.
template <int B>
inline ap_int<B> quantize(float x, float inv_scale) {
    const float v = x * inv_scale;
    long r = (long)(v + (v >= 0.0f ? 0.5f : -0.5f));
    const long hi = (1L << (B - 1)) - 1;
    if (r > hi) r = hi;
    if (r < -hi) r = -hi;
    return ap_int<B>(r);
}

// Grouped-query attention: an attention config's K/V heads are C::KV_HEADS when it declares
// them (LLaMA-3, Mistral, Qwen2 designs), else C::HEADS (multi-head attention). Q head h
// reads K/V head h / (HEADS / KV_HEADS), as Hugging Face's repeat_kv does; KvOf<C> is C
// with F the K/V buffers' width (the K and V writers' config).
template <class C, class = void>
struct kv_heads_of {
    static constexpr int value = C::HEADS;
};
template <class C>
struct kv_heads_of<C, decltype(void(C::KV_HEADS))> {
    static constexpr int value = C::KV_HEADS;
};
template <class C>
struct KvOf : C {
    static constexpr int F = kv_heads_of<C>::value * C::HD;
    static constexpr int GROUP = C::HEADS / kv_heads_of<C>::value;
};

}  // namespace spatial
