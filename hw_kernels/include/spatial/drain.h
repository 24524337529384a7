// drain.h: the output registers of an array kernel (linear, GEMV, attention arrays).
//
// A finished block's results wait in registers and leave one word per cycle during the
// next block's reduction loop (its first iterations each write one). When that loop is
// shorter than the block, drain_rest() writes what is left; flush() empties the registers
// after the last block. The label arguments name the loops counted in C simulation
// ("linear.DRAIN_REST", "linear.FLUSH"), which the cost model's loops match.
#pragma once

#include "spatial/stream.h"

namespace spatial {

template <class T, int N>
void drain_rest(stream<T>& out, const T (&regs)[N], int from, int pending,
                const char* rest_label) {
    if (pending <= from) return;
    SPATIAL_ENTER(rest_label);
DRAIN_REST:
    for (int k = from; k < pending; ++k) {
#pragma HLS PIPELINE II = 1
        SPATIAL_TRIP(rest_label);
        out.write(regs[k]);
    }
}

template <class T, int N>
void flush(stream<T>& out, const T (&regs)[N], int pending, const char* flush_label) {
    SPATIAL_ENTER(flush_label);
FLUSH:
    for (int k = 0; k < pending; ++k) {
#pragma HLS PIPELINE II = 1
        SPATIAL_TRIP(flush_label);
        out.write(regs[k]);
    }
}

}  // namespace spatial
