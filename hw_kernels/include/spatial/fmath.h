// fmath.h: fp32 functions for the non-linear kernels (hls_math for synthesis, <cmath> in C
// simulation, which is what hls_math's simulation model calls).
#pragma once

#include "spatial/sim.h"

#ifdef SPATIAL_CSIM
#include <cmath>
namespace spatial {
inline float fexp(float x) { return std::exp(x); }
inline float ftanh(float x) { return std::tanh(x); }
inline float fsqrt(float x) { return std::sqrt(x); }
}  // namespace spatial
#else
#include <hls_math.h>
namespace spatial {
inline float fexp(float x) { return hls::exp(x); }
inline float ftanh(float x) { return hls::tanh(x); }
inline float fsqrt(float x) { return hls::sqrt(x); }
}  // namespace spatial
#endif
