// ap_axi_sdata.h: a stand-in for the Vitis header of the same name, which the hls4ml
// simulation headers do not ship. It declares the AXI4-Stream side-channel struct used on
// region ports (hls::axis<T, U, TI, TD>) with the fields C simulation needs.
#pragma once

#include <ap_int.h>

namespace hls {

template <class T, int U = 1, int TI = 1, int TD = 1>
struct axis {
    T data;
    ap_uint<(U > 0 ? U : 1)> user;
    ap_uint<1> last;
    ap_uint<(TI > 0 ? TI : 1)> id;
    ap_uint<(TD > 0 ? TD : 1)> dest;
};

}  // namespace hls
