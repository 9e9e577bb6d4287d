// Reference (scalar, round-to-nearest) quantisation into the 32-element block formats
// (decoding: quant/decode.h).
#include <algorithm>
#include <cmath>

#include "quant/blocks.h"
#include "quant/codecs.h"
#include "util/half.h"

namespace concord::codecs {
namespace {

constexpr int kHalf = kQK / 2;

// The element of largest magnitude, with its sign (symmetric formats map it to -2^(bits-1)).
float signed_absmax(const float* x, int n) {
  float best = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  }
  return best;
}

int round_clamp(float v, int lo, int hi) {
  return std::clamp(static_cast<int>(std::lround(v)), lo, hi);
}

// A scale rounded to f16 as stored, and its inverse (0 for a zero scale).
struct Scale {
  uint16_t bits;
  float inverse;
};
Scale f16_scale(float value) {
  const uint16_t bits = f32_to_f16(value);
  const float stored = f16_to_f32(bits);
  return {bits, stored != 0.0f ? 1.0f / stored : 0.0f};
}

void pack_nibbles(const int* q, uint8_t* qs) {
  for (int j = 0; j < kHalf; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | (q[j + kHalf] << 4));
}
uint32_t fifth_bits(const int* q) {
  uint32_t qh = 0;
  for (int i = 0; i < kQK; ++i) qh |= static_cast<uint32_t>((q[i] >> 4) & 1) << i;
  return qh;
}
void store_u32(uint32_t v, uint8_t* out) {
  for (int b = 0; b < 4; ++b) out[b] = static_cast<uint8_t>(v >> (8 * b));
}

// Asymmetric formats: x ≈ d * q + min, q in [0, levels].
struct Affine {
  uint16_t d_bits, m_bits;
  float min, inverse;
};
Affine affine_scale(const float* x, int levels) {
  const auto [lo, hi] = std::minmax_element(x, x + kQK);
  const uint16_t m_bits = f32_to_f16(*lo);
  const float min = f16_to_f32(m_bits);  // quantise against the stored offset
  const Scale d = f16_scale((*hi - min) / static_cast<float>(levels));
  return {d.bits, m_bits, min, d.inverse};
}

}  // namespace

void quantize(const float* x, BlockQ4_0& b) {
  const Scale d = f16_scale(signed_absmax(x, kQK) / -8.0f);
  int q[kQK];
  for (int i = 0; i < kQK; ++i) q[i] = round_clamp(x[i] * d.inverse + 8.0f, 0, 15);
  b.d = d.bits;
  pack_nibbles(q, b.qs);
}

void quantize(const float* x, BlockQ4_1& b) {
  const Affine a = affine_scale(x, 15);
  int q[kQK];
  for (int i = 0; i < kQK; ++i) q[i] = round_clamp((x[i] - a.min) * a.inverse, 0, 15);
  b.d = a.d_bits;
  b.m = a.m_bits;
  pack_nibbles(q, b.qs);
}

void quantize(const float* x, BlockQ5_0& b) {
  const Scale d = f16_scale(signed_absmax(x, kQK) / -16.0f);
  int q[kQK];
  for (int i = 0; i < kQK; ++i) q[i] = round_clamp(x[i] * d.inverse + 16.0f, 0, 31);
  b.d = d.bits;
  store_u32(fifth_bits(q), b.qh);
  pack_nibbles(q, b.qs);
}

void quantize(const float* x, BlockQ5_1& b) {
  const Affine a = affine_scale(x, 31);
  int q[kQK];
  for (int i = 0; i < kQK; ++i) q[i] = round_clamp((x[i] - a.min) * a.inverse, 0, 31);
  b.d = a.d_bits;
  b.m = a.m_bits;
  store_u32(fifth_bits(q), b.qh);
  pack_nibbles(q, b.qs);
}

void quantize(const float* x, BlockQ8_0& b) {
  float amax = 0.0f;
  for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(x[i]));
  const Scale d = f16_scale(amax / 127.0f);
  b.d = d.bits;
  for (int i = 0; i < kQK; ++i)
    b.qs[i] = static_cast<int8_t>(round_clamp(x[i] * d.inverse, -127, 127));
}

}  // namespace concord::codecs
