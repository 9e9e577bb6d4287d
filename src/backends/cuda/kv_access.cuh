// Reads and writes of KV cache values (float32 or fp16 rows) as floats, shared by the
// cache-writing kernels (kernels.cu) and the attention kernels (attention.cu).
#pragma once

#include <cuda_fp16.h>

#include "backend/backend.h"

namespace concord::cuda {

__device__ __forceinline__ float load_kv(const void* base, KvType type, int64_t i) {
  return type == KvType::F32 ? static_cast<const float*>(base)[i]
                             : __half2float(static_cast<const __half*>(base)[i]);
}

// 4 consecutive values of a KV cache row (i a multiple of 4).
__device__ __forceinline__ float4 load_kv4(const void* base, KvType type, int64_t i) {
  if (type == KvType::F32)
    return *reinterpret_cast<const float4*>(static_cast<const float*>(base) + i);
  const uint2 w = *reinterpret_cast<const uint2*>(static_cast<const __half*>(base) + i);
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&w.x));
  const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&w.y));
  return {a.x, a.y, b.x, b.y};
}

__device__ __forceinline__ void store_kv_value(void* base, KvType type, int64_t i, float v) {
  if (type == KvType::F32) {
    static_cast<float*>(base)[i] = v;
  } else {
    static_cast<__half*>(base)[i] = __float2half_rn(v);
  }
}

// v as the cache holds it: what load_kv returns after store_kv_value(v).
__device__ __forceinline__ float round_to_kv(KvType type, float v) {
  return type == KvType::F32 ? v : __half2float(__float2half_rn(v));
}

}  // namespace concord::cuda
