// Warp-level helpers shared by the CUDA kernels.
#pragma once

namespace concord::cuda {

inline constexpr int kWarp = 32;

// The sum of v over the 32 lanes of a warp, returned to every lane.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

}  // namespace concord::cuda
