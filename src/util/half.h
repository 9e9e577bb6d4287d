// IEEE binary16 (f16) and bfloat16 conversions, bit-exact and portable.
#pragma once

#include <cstdint>
#include <cstring>

#include "util/hd.h"

namespace concord {

CONCORD_HD float float_from_bits(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);  // C++17-compatible bit cast (nvcc builds as C++17)
  return f;
#endif
}

// f16 bits -> f32. Handles zeros, subnormals, infinities and NaNs exactly.
CONCORD_HD float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {  // inf / NaN
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal: rebias 15 -> 127
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // signed zero
    bits = sign;
  } else {  // subnormal: normalise the mantissa
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) | (mantissa << 13);
  }
  return float_from_bits(bits);
}

// f32 -> f16 bits, round to nearest even; overflow gives inf, NaN stays NaN.
inline uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;  // NaN (quiet)
  const int32_t exponent = static_cast<int32_t>(abs >> 23) - 127 + 15;
  if (exponent >= 0x1f) return sign | 0x7c00u;  // overflow -> inf
  if (exponent <= 0) {                          // subnormal or zero in f16
    if (exponent < -10) return sign;            // underflows to zero (even after rounding)
    const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const int shift = 14 - exponent;  // 24-bit mantissa -> (10 + exponent)-bit subnormal
    uint32_t q = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t q = (static_cast<uint32_t>(exponent) << 10) | ((abs >> 13) & 0x3ffu);
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (q & 1u))) ++q;  // may carry into inf: correct
  return static_cast<uint16_t>(sign | q);
}

CONCORD_HD float bf16_to_f32(uint16_t h) {
  return float_from_bits(static_cast<uint32_t>(h) << 16);
}

// f32 -> bf16 bits, round to nearest even; NaN stays a quiet NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  const uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

}  // namespace concord
