// Reference (scalar, round-to-nearest) codecs of the 256-element k-quant super-blocks.
// Each format is written as "where do the bits of element i live" (accessors used by
// both directions), so quantise and dequantise mirror each other.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/codecs.h"
#include "util/half.h"

namespace concord::codecs {
namespace {

int round_clamp(float v, int lo, int hi) {
  return std::clamp(static_cast<int>(std::lround(v)), lo, hi);
}

float stored_f16(float v, uint16_t& bits) {
  bits = f32_to_f16(v);
  return f16_to_f32(bits);
}

// --- Sub-block scales -------------------------------------------------------------------

// Affine sub-blocks: x ≈ (d * ls[b]) * q - (dmin * lm[b]), q in [0, levels], ls/lm in
// [0, scale_max]. The sub-block minimum is clamped to <= 0 so that lm stays non-negative.
struct AffineLayout {
  int n_sub, sub_len, levels, scale_max;
};
void quantize_affine(const float* x, const AffineLayout& k, uint16_t& d_bits, uint16_t& dmin_bits,
                     int* ls, int* lm, int* q) {
  float scales[16], mins[16];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int b = 0; b < k.n_sub; ++b) {
    const float* xb = x + b * k.sub_len;
    const float lo = std::min(0.0f, *std::min_element(xb, xb + k.sub_len));
    const float hi = *std::max_element(xb, xb + k.sub_len);
    scales[b] = (hi - lo) / static_cast<float>(k.levels);
    mins[b] = -lo;
    max_scale = std::max(max_scale, scales[b]);
    max_min = std::max(max_min, mins[b]);
  }
  const float d = stored_f16(max_scale / static_cast<float>(k.scale_max), d_bits);
  const float dmin = stored_f16(max_min / static_cast<float>(k.scale_max), dmin_bits);
  for (int b = 0; b < k.n_sub; ++b) {
    ls[b] = d > 0.0f ? round_clamp(scales[b] / d, 0, k.scale_max) : 0;
    lm[b] = dmin > 0.0f ? round_clamp(mins[b] / dmin, 0, k.scale_max) : 0;
    const float step = d * static_cast<float>(ls[b]);
    const float offset = dmin * static_cast<float>(lm[b]);
    for (int i = b * k.sub_len; i < (b + 1) * k.sub_len; ++i) {
      q[i] = step > 0.0f ? round_clamp((x[i] + offset) / step, 0, k.levels) : 0;
    }
  }
}

// Symmetric sub-blocks: x ≈ (d * ls[b]) * q, q in [qmin, -qmin - 1], ls in
// [-scale_max, scale_max]; the sub-block's extreme value maps to qmin.
struct SymmetricLayout {
  int n_sub, sub_len, qmin, scale_max;
};
void quantize_symmetric(const float* x, const SymmetricLayout& k, uint16_t& d_bits, int* ls,
                        int* q) {
  float scales[16];
  float max_scale = 0.0f;
  for (int b = 0; b < k.n_sub; ++b) {
    float extreme = 0.0f;
    for (int i = b * k.sub_len; i < (b + 1) * k.sub_len; ++i) {
      if (std::fabs(x[i]) > std::fabs(extreme)) extreme = x[i];
    }
    scales[b] = extreme / static_cast<float>(k.qmin);
    max_scale = std::max(max_scale, std::fabs(scales[b]));
  }
  const float d = stored_f16(max_scale / static_cast<float>(k.scale_max), d_bits);
  for (int b = 0; b < k.n_sub; ++b) {
    ls[b] = d > 0.0f ? round_clamp(scales[b] / d, -k.scale_max, k.scale_max) : 0;
    const float step = d * static_cast<float>(ls[b]);
    for (int i = b * k.sub_len; i < (b + 1) * k.sub_len; ++i) {
      q[i] = step != 0.0f ? round_clamp(x[i] / step, k.qmin, -k.qmin - 1) : 0;
    }
  }
}

// Q4_K / Q5_K: eight 6-bit (scale, min) pairs in 12 bytes. Pairs 0..3 sit in the low 6 bits
// of bytes 0..3 (scale) and 4..7 (min); pairs 4..7 keep their low nibbles in bytes 8..11
// and their top 2 bits in the top bits of bytes 0..3 (scale) and 4..7 (min).
void unpack_scale_min(const uint8_t* s, int b, int& scale, int& min) {
  if (b < 4) {
    scale = s[b] & 63;
    min = s[b + 4] & 63;
  } else {
    scale = (s[b + 4] & 0x0f) | ((s[b - 4] >> 6) << 4);
    min = (s[b + 4] >> 4) | ((s[b] >> 6) << 4);
  }
}
void pack_scale_min(const int* scale, const int* min, uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(scale[j] | ((scale[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(min[j] | ((min[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((scale[j + 4] & 0x0f) | ((min[j + 4] & 0x0f) << 4));
  }
}

// Q3_K: sixteen 6-bit scales (stored + 32) in 12 bytes: low nibble of scale b in byte b
// (b < 8) or in the high nibble of byte b - 8; its top 2 bits at shift 2*(b/4) of byte
// 8 + b%4.
int unpack_q3_scale(const uint8_t* s, int b) {
  const int low = b < 8 ? (s[b] & 0x0f) : (s[b - 8] >> 4);
  const int high = (s[8 + b % 4] >> (2 * (b / 4))) & 3;
  return (low | (high << 4)) - 32;
}
void pack_q3_scales(const int* scale, uint8_t* s) {
  std::memset(s, 0, 12);
  for (int b = 0; b < 16; ++b) {
    const int u = scale[b] + 32;
    s[b < 8 ? b : b - 8] |= static_cast<uint8_t>((u & 0x0f) << (b < 8 ? 0 : 4));
    s[8 + b % 4] |= static_cast<uint8_t>(((u >> 4) & 3) << (2 * (b / 4)));
  }
}

// --- Where the bits of element i live -----------------------------------------------------

// Q2_K / Q3_K low 2 bits: halves of 128; in a half, r = i % 128 sits in byte 32h + r%32
// at shift 2*(r/32).
int two_bit_byte(int i) { return 32 * (i / 128) + i % 32; }
int two_bit_shift(int i) { return 2 * ((i % 128) / 32); }
// Q3_K third bit: byte r % 32 of hmask, bit 4h + r/32.
int hmask_bit(int i) { return 4 * (i / 128) + (i % 128) / 32; }
// Q4_K / Q5_K nibbles: chunks of 64; r = i % 64 in byte 32c + r%32, low nibble if r < 32.
int nibble_byte(int i) { return 32 * (i / 64) + i % 32; }
int nibble_shift(int i) { return (i % 64) < 32 ? 0 : 4; }
// Q6_K: halves of 128, groups g = r/32 of 32; low nibble in ql[64h + l + 32(g&1)] at shift
// 4*(g/2), high 2 bits in qh[32h + l] at shift 2g.
int q6_low_byte(int i) { return 64 * (i / 128) + i % 32 + 32 * (((i % 128) / 32) & 1); }
int q6_low_shift(int i) { return 4 * (((i % 128) / 32) / 2); }
int q6_high_byte(int i) { return 32 * (i / 128) + i % 32; }
int q6_high_shift(int i) { return 2 * ((i % 128) / 32); }

}  // namespace

void dequantize(const BlockQ2_K& b, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int i = 0; i < kQKK; ++i) {
    const int sb = b.scales[i / 16];
    const int q = (b.qs[two_bit_byte(i)] >> two_bit_shift(i)) & 3;
    y[i] = d * static_cast<float>(sb & 0x0f) * static_cast<float>(q) -
           dmin * static_cast<float>(sb >> 4);
  }
}
void quantize(const float* x, BlockQ2_K& b) {
  int ls[16], lm[16], q[kQKK];
  quantize_affine(x, {16, 16, 3, 15}, b.d, b.dmin, ls, lm, q);
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<uint8_t>(ls[s] | (lm[s] << 4));
  std::memset(b.qs, 0, sizeof b.qs);
  for (int i = 0; i < kQKK; ++i) b.qs[two_bit_byte(i)] |= static_cast<uint8_t>(q[i] << two_bit_shift(i));
}

void dequantize(const BlockQ3_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int i = 0; i < kQKK; ++i) {
    const int low = (b.qs[two_bit_byte(i)] >> two_bit_shift(i)) & 3;
    const bool high = (b.hmask[i % 32] >> hmask_bit(i)) & 1;
    const int q = low - (high ? 0 : 4);
    y[i] = d * static_cast<float>(unpack_q3_scale(b.scales, i / 16)) * static_cast<float>(q);
  }
}
void quantize(const float* x, BlockQ3_K& b) {
  int ls[16], q[kQKK];
  quantize_symmetric(x, {16, 16, -4, 31}, b.d, ls, q);
  pack_q3_scales(ls, b.scales);
  std::memset(b.qs, 0, sizeof b.qs);
  std::memset(b.hmask, 0, sizeof b.hmask);
  for (int i = 0; i < kQKK; ++i) {
    const int u = q[i] + 4;  // [0, 7]: bit 2 set means "no -4 offset"
    b.qs[two_bit_byte(i)] |= static_cast<uint8_t>((u & 3) << two_bit_shift(i));
    b.hmask[i % 32] |= static_cast<uint8_t>((u >> 2) << hmask_bit(i));
  }
}

void dequantize(const BlockQ4_K& b, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int i = 0; i < kQKK; ++i) {
    int scale, min;
    unpack_scale_min(b.scales, i / 32, scale, min);
    const int q = (b.qs[nibble_byte(i)] >> nibble_shift(i)) & 0x0f;
    y[i] = d * static_cast<float>(scale) * static_cast<float>(q) - dmin * static_cast<float>(min);
  }
}
void quantize(const float* x, BlockQ4_K& b) {
  int ls[8], lm[8], q[kQKK];
  quantize_affine(x, {8, 32, 15, 63}, b.d, b.dmin, ls, lm, q);
  pack_scale_min(ls, lm, b.scales);
  std::memset(b.qs, 0, sizeof b.qs);
  for (int i = 0; i < kQKK; ++i) b.qs[nibble_byte(i)] |= static_cast<uint8_t>(q[i] << nibble_shift(i));
}

void dequantize(const BlockQ5_K& b, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int i = 0; i < kQKK; ++i) {
    int scale, min;
    unpack_scale_min(b.scales, i / 32, scale, min);
    const int low = (b.qs[nibble_byte(i)] >> nibble_shift(i)) & 0x0f;
    const int high = (b.qh[i % 32] >> (i / 32)) & 1;
    const int q = low | (high << 4);
    y[i] = d * static_cast<float>(scale) * static_cast<float>(q) - dmin * static_cast<float>(min);
  }
}
void quantize(const float* x, BlockQ5_K& b) {
  int ls[8], lm[8], q[kQKK];
  quantize_affine(x, {8, 32, 31, 63}, b.d, b.dmin, ls, lm, q);
  pack_scale_min(ls, lm, b.scales);
  std::memset(b.qs, 0, sizeof b.qs);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int i = 0; i < kQKK; ++i) {
    b.qs[nibble_byte(i)] |= static_cast<uint8_t>((q[i] & 0x0f) << nibble_shift(i));
    b.qh[i % 32] |= static_cast<uint8_t>((q[i] >> 4) << (i / 32));
  }
}

void dequantize(const BlockQ6_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int i = 0; i < kQKK; ++i) {
    const int low = (b.ql[q6_low_byte(i)] >> q6_low_shift(i)) & 0x0f;
    const int high = (b.qh[q6_high_byte(i)] >> q6_high_shift(i)) & 3;
    const int q = (low | (high << 4)) - 32;
    y[i] = d * static_cast<float>(b.scales[i / 16]) * static_cast<float>(q);
  }
}
void quantize(const float* x, BlockQ6_K& b) {
  int ls[16], q[kQKK];
  quantize_symmetric(x, {16, 16, -32, 127}, b.d, ls, q);
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(ls[s]);
  std::memset(b.ql, 0, sizeof b.ql);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int i = 0; i < kQKK; ++i) {
    const int u = q[i] + 32;  // [0, 63]
    b.ql[q6_low_byte(i)] |= static_cast<uint8_t>((u & 0x0f) << q6_low_shift(i));
    b.qh[q6_high_byte(i)] |= static_cast<uint8_t>((u >> 4) << q6_high_shift(i));
  }
}

}  // namespace concord::codecs
