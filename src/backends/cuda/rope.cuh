// RoPE on the device, shared by the rope kernels (kernels.cu) and the decode attention kernel
// that ropes its own token's query and key (attention.cu).
#pragma once

#include <cuda_runtime.h>

#include "backend/backend.h"

namespace concord::cuda {

// rope_inverse_frequency of every pair, computed on the host (the device's pow in double
// costs microseconds on a decode step's critical path and may differ in the last bit) and
// passed by value with the launch.
constexpr int kMaxRopePairs = 128;  // head dims up to 256, the attention kernel's limit too
struct InverseFrequencies {
  double pair[kMaxRopePairs];
};
InverseFrequencies inverse_frequencies(const RopeParams& p);  // fails past kMaxRopePairs

// Pair i < n_rot / 2 at `position`: its dims (a, b) and the sine and cosine of its angle,
// computed in double as the reference computes them.
struct PairRotation {
  int a, b;
  double sin, cos;
};
__device__ __forceinline__ PairRotation pair_rotation(int i, int position, const RopeParams& p,
                                                      const InverseFrequencies& f) {
  const int half = p.n_rot / 2;
  const double inv_freq = f.pair[i];
  const double factor = p.freq_factors != nullptr ? p.freq_factors[i] : 1.0;
  const double theta = position * static_cast<double>(p.freq_scale) * inv_freq / factor;
  PairRotation r;
  sincos(theta, &r.sin, &r.cos);
  r.a = p.neox ? i : 2 * i, r.b = p.neox ? i + half : 2 * i + 1;
  return r;
}

// The pair (x0, x1) rotated by r's angle.
__device__ __forceinline__ float2 rotated(const PairRotation& r, double x0, double x1) {
  return make_float2(static_cast<float>(x0 * r.cos - x1 * r.sin),
                     static_cast<float>(x0 * r.sin + x1 * r.cos));
}

// v[a], v[b] <- the pair rotated by r's angle.
__device__ __forceinline__ void rotate(float* v, const PairRotation& r) {
  const float2 x = rotated(r, v[r.a], v[r.b]);
  v[r.a] = x.x, v[r.b] = x.y;
}

}  // namespace concord::cuda
