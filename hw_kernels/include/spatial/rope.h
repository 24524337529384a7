// rope.h: rotary position embedding on the Q or K stream (spatialsim/kinds/rope.py; golden
// model spatialsim.golden.ops.rope), between a projection writing fp32 and the Q buffer or
// K writer reading int8.
//
// Config C: P tokens per word, F features (heads x HD), HD (head_dim, even), MAXL (rows of
// the angle table). cos_t and sin_t are the host-written table, [MAXL][HD / 2] fp32
// (spatialsim.golden.ops.rope_table). Hugging Face's rotate_half layout: element i of a
// head pairs with i + HD / 2, so a head is read whole (READ) before it is written (ROT):
//   out_i = x_i cos - x_{i+HD/2} sin,  out_{i+HD/2} = x_{i+HD/2} cos + x_i sin,
// each product rounded to fp32 before the add (no fused multiply-add), then int8 at the
// static scale attention expects.
#pragma once

#include "spatial/stream.h"
#include "spatial/types.h"

namespace spatial {

template <class C>
void rope(stream<pack_f32<C::P>>& in, const float* cos_t, const float* sin_t,
          int first_position, int tokens, float out_inv_scale, stream<pack_i8<C::P>>& out) {
    constexpr int P = C::P, HD = C::HD, H2 = HD / 2, HEADS = C::F / HD;
    static_assert(HD % 2 == 0 && C::F % HD == 0, "whole heads of an even width");
    const int packs = (tokens + P - 1) / P;
    pack_f32<P> head[HD];
    for (int p = 0; p < packs; ++p)
        for (int h = 0; h < HEADS; ++h) {
            SPATIAL_ENTER("rope.READ");
        READ:
            for (int i = 0; i < HD; ++i) {
#pragma HLS PIPELINE II = 1
                SPATIAL_TRIP("rope.READ");
                head[i] = in.read();
            }
            SPATIAL_ENTER("rope.ROT");
        ROT:
            for (int i = 0; i < HD; ++i) {
#pragma HLS PIPELINE II = 1
                SPATIAL_TRIP("rope.ROT");
                const int j = i < H2 ? i : i - H2;
                pack_i8<P> y;
                for (int r = 0; r < P; ++r) {
                    // a padding row of the last pack reads row 0 of the table
                    const int pos = p * P + r < tokens ? first_position + p * P + r : 0;
                    const float c = cos_t[pos * H2 + j], s = sin_t[pos * H2 + j];
                    const float a = head[j].v[r], b = head[j + H2].v[r];
                    const float ac = a * c, bs = b * s, bc = b * c, as = a * s;
                    y.v[r] = quantize<8>(i < H2 ? ac - bs : bc + as, out_inv_scale);
                }
                out.write(y);
            }
        }
}

}  // namespace spatial
