// Decoding 8 consecutive elements [first, first + 8) of one block (first % 8 == 0) for the
// matrix-vector kernel: 8 elements never straddle a scale group, so scales are decoded
// once per group and the quant bytes come from one contiguous run. The generic version
// falls back to decode::element; hot formats are specialised. The op harness checks
// every one against the CPU reference.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "quant/decode.h"

namespace concord::cuda {

// Generic: BS elements per block.
template <typename Block, int BS>
struct GroupDecoder {
  static __device__ __forceinline__ void decode(const Block* row, int64_t first, float (&out)[8]) {
    const Block& b = row[first / BS];
    const int i0 = static_cast<int>(first % BS);
#pragma unroll
    for (int j = 0; j < 8; ++j) out[j] = decode::element(b, i0 + j);
  }
};

// Plain float formats: 8 elements are 16 or 32 contiguous bytes (aligned: rows of these
// types are multiples of 8 elements wherever this kernel runs them).
template <>
struct GroupDecoder<decode::F32Element, 1> {
  static __device__ __forceinline__ void decode(const decode::F32Element* row, int64_t first,
                                                float (&out)[8]) {
    const float4 a = *reinterpret_cast<const float4*>(row + first);
    const float4 b = *reinterpret_cast<const float4*>(row + first + 4);
    out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w, out[4] = b.x, out[5] = b.y,
    out[6] = b.z, out[7] = b.w;
  }
};
template <>
struct GroupDecoder<decode::F16Element, 1> {
  static __device__ __forceinline__ void decode(const decode::F16Element* row, int64_t first,
                                                float (&out)[8]) {
    const uint4 v = *reinterpret_cast<const uint4*>(row + first);
    const __half2* h = reinterpret_cast<const __half2*>(&v);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float2 f = __half22float2(h[k]);
      out[2 * k] = f.x, out[2 * k + 1] = f.y;
    }
  }
};
template <>
struct GroupDecoder<decode::BF16Element, 1> {
  static __device__ __forceinline__ void decode(const decode::BF16Element* row, int64_t first,
                                                float (&out)[8]) {
    const uint4 v = *reinterpret_cast<const uint4*>(row + first);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      out[2 * k] = __uint_as_float(w[k] << 16);
      out[2 * k + 1] = __uint_as_float(w[k] & 0xffff0000u);
    }
  }
};

template <>
struct GroupDecoder<BlockQ8_0, kQK> {
  static __device__ __forceinline__ void decode(const BlockQ8_0* row, int64_t first,
                                                float (&out)[8]) {
    const BlockQ8_0& b = row[first / kQK];
    const int i0 = static_cast<int>(first % kQK);
    const float d = __half2float(__ushort_as_half(b.d));
#pragma unroll
    for (int j = 0; j < 8; ++j) out[j] = d * static_cast<float>(b.qs[i0 + j]);
  }
};

template <>
struct GroupDecoder<BlockQ4_0, kQK> {
  static __device__ __forceinline__ void decode(const BlockQ4_0* row, int64_t first,
                                                float (&out)[8]) {
    const BlockQ4_0& b = row[first / kQK];
    const int i0 = static_cast<int>(first % kQK);
    const float d = __half2float(__ushort_as_half(b.d));
    const int byte0 = i0 % 16, shift = i0 < 16 ? 0 : 4;
#pragma unroll
    for (int j = 0; j < 8; ++j)
      out[j] = d * static_cast<float>(((b.qs[byte0 + j] >> shift) & 0x0f) - 8);
  }
};

template <>
struct GroupDecoder<BlockQ4_K, kQKK> {
  static __device__ __forceinline__ void decode(const BlockQ4_K* row, int64_t first,
                                                float (&out)[8]) {
    const BlockQ4_K& b = row[first / kQKK];
    const int i0 = static_cast<int>(first % kQKK);
    int scale, min;
    decode::scale_min_k4(b.scales, i0 / 32, scale, min);
    const float d = __half2float(__ushort_as_half(b.d)) * static_cast<float>(scale);
    const float m = __half2float(__ushort_as_half(b.dmin)) * static_cast<float>(min);
    // qs sits 16 bytes into a 144-byte block and byte0 is a multiple of 8: one 8-byte load.
    const int byte0 = decode::nibble_byte(i0), shift = decode::nibble_shift(i0);
    const uint2 packed = *reinterpret_cast<const uint2*>(b.qs + byte0);
    const uint32_t words[2] = {packed.x, packed.y};
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      out[j] = d * static_cast<float>((words[j / 4] >> (8 * (j % 4) + shift)) & 0x0f) - m;
    }
  }
};

template <>
struct GroupDecoder<BlockQ6_K, kQKK> {
  static __device__ __forceinline__ void decode(const BlockQ6_K* row, int64_t first,
                                                float (&out)[8]) {
    const BlockQ6_K& b = row[first / kQKK];
    const int i0 = static_cast<int>(first % kQKK);
    const float d = __half2float(__ushort_as_half(b.d)) * static_cast<float>(b.scales[i0 / 16]);
    const int low0 = decode::q6_low_byte(i0), low_shift = decode::q6_low_shift(i0);
    const int high0 = decode::q6_high_byte(i0), high_shift = decode::q6_high_shift(i0);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int q =
          ((b.ql[low0 + j] >> low_shift) & 0x0f) | (((b.qh[high0 + j] >> high_shift) & 3) << 4);
      out[j] = d * static_cast<float>(q - 32);
    }
  }
};

}  // namespace concord::cuda
