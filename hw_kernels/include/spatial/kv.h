// kv.h: the K and V writers and the Q buffer: on-chip buffers handed to attention whole.
//
// Config C: P (tokens per pack), F (features), MAXL (tokens the buffer holds), II (the
// write loop's initiation interval; the V writer transposes and runs at II 4 or 8).
// The buffer is token-major, buf[token][feature]. When the layer's rows are all in, the
// writer sends one token on `done`: attention reads the buffer only after it (a PIPO
// hand-off; the design graph's kv_writer -> attention edge). In decode the layer's `cached`
// rows are first read from the off-chip cache (CACHE_LOAD, one 512-bit beat per cycle), and
// every new row is written back to it. Golden model: the layer's k / v / q tensors.
//
// With C::CACHE_ON_CHIP (the kv_writer kind's cache = "chip": every layer's rows stay on
// chip) the caller passes the layer's slice of the on-chip store as `buf`: the cached rows
// are already there, nothing is loaded or written back.
#pragma once

#include "spatial/stream.h"
#include "spatial/types.h"

namespace spatial {

template <class C, class = void>
struct cache_on_chip {
    static constexpr bool value = false;
};
template <class C>
struct cache_on_chip<C, decltype(void(C::CACHE_ON_CHIP))> {
    static constexpr bool value = C::CACHE_ON_CHIP;
};

template <class C>
void kv_writer(stream<pack_i8<C::P>>& in, ap_int<8> buf[C::MAXL][C::F], ap_int<8>* cache,
               int cached, int tokens, stream<bool>& done) {
    constexpr int P = C::P, F = C::F, PER_BEAT = 64;  // int8 values per 512-bit beat
    constexpr bool off_chip = !cache_on_chip<C>::value;
    const int beats = off_chip ? (cached * F + PER_BEAT - 1) / PER_BEAT : 0;
    if (beats) SPATIAL_ENTER("kv_writer.CACHE_LOAD");
CACHE_LOAD:
    for (int i = 0; i < beats; ++i) {
#pragma HLS PIPELINE II = 1
        SPATIAL_TRIP("kv_writer.CACHE_LOAD");
        for (int j = 0; j < PER_BEAT; ++j) {
            const int e = i * PER_BEAT + j;
            if (e < cached * F) buf[e / F][e % F] = cache[e];
        }
    }
    const int packs = (tokens + P - 1) / P;
    for (int p = 0; p < packs; ++p) {
        SPATIAL_ENTER("kv_writer.WRITE");
    WRITE:
        for (int f = 0; f < F; ++f) {
#pragma HLS PIPELINE  // II = C::II: the transposed V write conflicts on the URAM port
            SPATIAL_TRIP("kv_writer.WRITE");
            pack_i8<P> w = in.read();
            for (int r = 0; r < P; ++r) {
                const int t = cached + p * P + r;
                if (p * P + r < tokens) {
                    buf[t][f] = w.v[r];
                    if (off_chip) cache[t * F + f] = w.v[r];  // keep the off-chip cache current
                }
            }
        }
    }
    done.write(true);
}

template <class C>
void q_buffer(stream<pack_i8<C::P>>& in, pack_i8<C::P> buf[C::MAXPACKS][C::F], int packs,
              stream<bool>& done) {
    for (int p = 0; p < packs; ++p) {
        SPATIAL_ENTER("buffer.STORE");
    STORE:
        for (int f = 0; f < C::F; ++f) {
#pragma HLS PIPELINE II = 1
            SPATIAL_TRIP("buffer.STORE");
            buf[p][f] = in.read();
        }
    }
    done.write(true);
}

}  // namespace spatial
