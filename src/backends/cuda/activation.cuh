// The gated feed-forward activations on the device, shared by the element-wise kernels and
// the fused gate/up matrix-vector kernel (same formulas as backends/cpu/reference_ops).
#pragma once

namespace concord::cuda {

__device__ __forceinline__ float silu(float g) {
  return g / (1.0f + expf(-g));
}

// 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3)))
__device__ __forceinline__ float gelu_tanh(float g) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f;
  return 0.5f * g * (1.0f + tanhf(kSqrt2OverPi * (g + 0.044715f * g * g * g)));
}

}  // namespace concord::cuda
