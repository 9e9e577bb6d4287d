// Reference (scalar, round-to-nearest) quantisation into the 256-element k-quant
// super-blocks. Bit positions come from quant/decode.h, which decodes them, so the two
// directions mirror each other.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/decode.h"
#include "util/half.h"

namespace concord::codecs {
using namespace decode;  // bit positions shared with the decoders

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

// Q4_K / Q5_K scale packing: the inverse of decode::scale_min_k4.
void pack_scale_min(const int* scale, const int* min, uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(scale[j] | ((scale[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(min[j] | ((min[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((scale[j + 4] & 0x0f) | ((min[j + 4] & 0x0f) << 4));
  }
}

// Q3_K scale packing: the inverse of decode::q3_scale.
void pack_q3_scales(const int* scale, uint8_t* s) {
  std::memset(s, 0, 12);
  for (int b = 0; b < 16; ++b) {
    const int u = scale[b] + 32;
    s[b < 8 ? b : b - 8] |= static_cast<uint8_t>((u & 0x0f) << (b < 8 ? 0 : 4));
    s[8 + b % 4] |= static_cast<uint8_t>(((u >> 4) & 3) << (2 * (b / 4)));
  }
}

}  // namespace

void quantize(const float* x, BlockQ2_K& b) {
  int ls[16], lm[16], q[kQKK];
  quantize_affine(x, {16, 16, 3, 15}, b.d, b.dmin, ls, lm, q);
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<uint8_t>(ls[s] | (lm[s] << 4));
  std::memset(b.qs, 0, sizeof b.qs);
  for (int i = 0; i < kQKK; ++i)
    b.qs[two_bit_byte(i)] |= static_cast<uint8_t>(q[i] << two_bit_shift(i));
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

void quantize(const float* x, BlockQ4_K& b) {
  int ls[8], lm[8], q[kQKK];
  quantize_affine(x, {8, 32, 15, 63}, b.d, b.dmin, ls, lm, q);
  pack_scale_min(ls, lm, b.scales);
  std::memset(b.qs, 0, sizeof b.qs);
  for (int i = 0; i < kQKK; ++i)
    b.qs[nibble_byte(i)] |= static_cast<uint8_t>(q[i] << nibble_shift(i));
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
