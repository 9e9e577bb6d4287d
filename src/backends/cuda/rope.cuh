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

// Rotates the pair of dims (a, b) of one head vector v for pair index i < n_rot / 2 at
// `position`; angles in double, as the reference computes them.
__device__ __forceinline__ void rotate_pair(float* v, int i, int position, const RopeParams& p,
                                            const InverseFrequencies& f, int& a, int& b) {
  const int half = p.n_rot / 2;
  const double inv_freq = f.pair[i];
  const double factor = p.freq_factors != nullptr ? p.freq_factors[i] : 1.0;
  const double theta = position * static_cast<double>(p.freq_scale) * inv_freq / factor;
  double s, c;
  sincos(theta, &s, &c);
  a = p.neox ? i : 2 * i, b = p.neox ? i + half : 2 * i + 1;
  const double x0 = v[a], x1 = v[b];
  v[a] = static_cast<float>(x0 * c - x1 * s);
  v[b] = static_cast<float>(x0 * s + x1 * c);
}

}  // namespace concord::cuda
