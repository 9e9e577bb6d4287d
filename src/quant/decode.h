// Decoding one element of a quantised block: the single statement of "where the bits of
// element i live" for every block format, shared by the CPU reference codecs and the
// CUDA kernels (hence CONCORD_HD). See quant/blocks.h for the layouts.
#pragma once

#include <cstdint>

#include "quant/blocks.h"
#include "util/half.h"
#include "util/hd.h"

namespace concord::decode {

// --- bit positions ------------------------------------------------------------------------

// Legacy 32-blocks: element j < 16 in the low nibble of qs[j], element j + 16 in the high.
CONCORD_HD int nibble32(const uint8_t* qs, int i) {
  return i < 16 ? (qs[i] & 0x0f) : (qs[i - 16] >> 4);
}
// Bit 4 of legacy 5-bit element i: bit i of the little-endian u32 qh.
CONCORD_HD int fifth_bit32(const uint8_t* qh, int i) {
  return (qh[i / 8] >> (i % 8)) & 1;
}

// Q2_K / Q3_K low 2 bits: halves of 128; r = i % 128 sits in byte 32h + r%32 at shift 2*(r/32).
CONCORD_HD int two_bit_byte(int i) {
  return 32 * (i / 128) + i % 32;
}
CONCORD_HD int two_bit_shift(int i) {
  return 2 * ((i % 128) / 32);
}
// Q3_K third bit: byte r % 32 of hmask, bit 4h + r/32.
CONCORD_HD int hmask_bit(int i) {
  return 4 * (i / 128) + (i % 128) / 32;
}
// Q4_K / Q5_K nibbles: chunks of 64; r = i % 64 in byte 32c + r%32, low nibble if r < 32.
CONCORD_HD int nibble_byte(int i) {
  return 32 * (i / 64) + i % 32;
}
CONCORD_HD int nibble_shift(int i) {
  return (i % 64) < 32 ? 0 : 4;
}
// Q6_K: halves of 128, groups g = r/32; low nibble in ql[64h + l + 32(g&1)] at shift
// 4*(g/2), high 2 bits in qh[32h + l] at shift 2g (l = i % 32).
CONCORD_HD int q6_low_byte(int i) {
  return 64 * (i / 128) + i % 32 + 32 * (((i % 128) / 32) & 1);
}
CONCORD_HD int q6_low_shift(int i) {
  return 4 * (((i % 128) / 32) / 2);
}
CONCORD_HD int q6_high_byte(int i) {
  return 32 * (i / 128) + i % 32;
}
CONCORD_HD int q6_high_shift(int i) {
  return 2 * ((i % 128) / 32);
}

// Q4_K / Q5_K: eight 6-bit (scale, min) pairs in 12 bytes. Pairs 0..3 sit in the low 6 bits
// of bytes 0..3 (scale) and 4..7 (min); pairs 4..7 keep their low nibbles in bytes 8..11
// and their top 2 bits in the top bits of bytes 0..3 (scale) and 4..7 (min).
CONCORD_HD void scale_min_k4(const uint8_t* s, int b, int& scale, int& min) {
  if (b < 4) {
    scale = s[b] & 63;
    min = s[b + 4] & 63;
  } else {
    scale = (s[b + 4] & 0x0f) | ((s[b - 4] >> 6) << 4);
    min = (s[b + 4] >> 4) | ((s[b] >> 6) << 4);
  }
}
// Q3_K: sixteen 6-bit scales (stored + 32): low nibble of scale b in byte b (b < 8) or the
// high nibble of byte b - 8; its top 2 bits at shift 2*(b/4) of byte 8 + b%4.
CONCORD_HD int q3_scale(const uint8_t* s, int b) {
  const int low = b < 8 ? (s[b] & 0x0f) : (s[b - 8] >> 4);
  const int high = (s[8 + b % 4] >> (2 * (b / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// --- element i of a block -----------------------------------------------------------------
// Every element is value = scale * q + offset, where the integer code q comes from
// quant(b, i) and (scale, offset) are shared by a group of kGroup<Block> consecutive
// elements (group_affine). Decoders that walk a whole block compute the affine once per
// group; element() is the one-element form of the same arithmetic.

struct Affine {
  float scale, offset;
};

template <typename Block>
inline constexpr int kGroup = 0;  // specialised per block type below

template <>
inline constexpr int kGroup<BlockQ4_0> = 32;
CONCORD_HD Affine group_affine(const BlockQ4_0& b, int) {
  return {f16_to_f32(b.d), 0.0f};
}
CONCORD_HD int quant(const BlockQ4_0& b, int i) {
  return nibble32(b.qs, i) - 8;
}

template <>
inline constexpr int kGroup<BlockQ4_1> = 32;
CONCORD_HD Affine group_affine(const BlockQ4_1& b, int) {
  return {f16_to_f32(b.d), f16_to_f32(b.m)};
}
CONCORD_HD int quant(const BlockQ4_1& b, int i) {
  return nibble32(b.qs, i);
}

template <>
inline constexpr int kGroup<BlockQ5_0> = 32;
CONCORD_HD Affine group_affine(const BlockQ5_0& b, int) {
  return {f16_to_f32(b.d), 0.0f};
}
CONCORD_HD int quant(const BlockQ5_0& b, int i) {
  return (nibble32(b.qs, i) | (fifth_bit32(b.qh, i) << 4)) - 16;
}

template <>
inline constexpr int kGroup<BlockQ5_1> = 32;
CONCORD_HD Affine group_affine(const BlockQ5_1& b, int) {
  return {f16_to_f32(b.d), f16_to_f32(b.m)};
}
CONCORD_HD int quant(const BlockQ5_1& b, int i) {
  return nibble32(b.qs, i) | (fifth_bit32(b.qh, i) << 4);
}

template <>
inline constexpr int kGroup<BlockQ8_0> = 32;
CONCORD_HD Affine group_affine(const BlockQ8_0& b, int) {
  return {f16_to_f32(b.d), 0.0f};
}
CONCORD_HD int quant(const BlockQ8_0& b, int i) {
  return b.qs[i];
}

// Q2_K: 16 groups of 16, each with a 4-bit scale (low nibble) and 4-bit min (high).
template <>
inline constexpr int kGroup<BlockQ2_K> = 16;
CONCORD_HD Affine group_affine(const BlockQ2_K& b, int g) {
  const int sb = b.scales[g];
  return {f16_to_f32(b.d) * static_cast<float>(sb & 0x0f),
          -(f16_to_f32(b.dmin) * static_cast<float>(sb >> 4))};
}
CONCORD_HD int quant(const BlockQ2_K& b, int i) {
  return (b.qs[two_bit_byte(i)] >> two_bit_shift(i)) & 3;
}

template <>
inline constexpr int kGroup<BlockQ3_K> = 16;
CONCORD_HD Affine group_affine(const BlockQ3_K& b, int g) {
  return {f16_to_f32(b.d) * static_cast<float>(q3_scale(b.scales, g)), 0.0f};
}
CONCORD_HD int quant(const BlockQ3_K& b, int i) {
  const int low = (b.qs[two_bit_byte(i)] >> two_bit_shift(i)) & 3;
  const int high = (b.hmask[i % 32] >> hmask_bit(i)) & 1;
  return low - (high ? 0 : 4);
}

template <>
inline constexpr int kGroup<BlockQ4_K> = 32;
CONCORD_HD Affine group_affine(const BlockQ4_K& b, int g) {
  int scale, min;
  scale_min_k4(b.scales, g, scale, min);
  return {f16_to_f32(b.d) * static_cast<float>(scale),
          -(f16_to_f32(b.dmin) * static_cast<float>(min))};
}
CONCORD_HD int quant(const BlockQ4_K& b, int i) {
  return (b.qs[nibble_byte(i)] >> nibble_shift(i)) & 0x0f;
}

template <>
inline constexpr int kGroup<BlockQ5_K> = 32;
CONCORD_HD Affine group_affine(const BlockQ5_K& b, int g) {
  int scale, min;
  scale_min_k4(b.scales, g, scale, min);
  return {f16_to_f32(b.d) * static_cast<float>(scale),
          -(f16_to_f32(b.dmin) * static_cast<float>(min))};
}
CONCORD_HD int quant(const BlockQ5_K& b, int i) {
  const int low = (b.qs[nibble_byte(i)] >> nibble_shift(i)) & 0x0f;
  return low | (((b.qh[i % 32] >> (i / 32)) & 1) << 4);
}

template <>
inline constexpr int kGroup<BlockQ6_K> = 16;
CONCORD_HD Affine group_affine(const BlockQ6_K& b, int g) {
  return {f16_to_f32(b.d) * static_cast<float>(b.scales[g]), 0.0f};
}
CONCORD_HD int quant(const BlockQ6_K& b, int i) {
  const int low = (b.ql[q6_low_byte(i)] >> q6_low_shift(i)) & 0x0f;
  const int high = (b.qh[q6_high_byte(i)] >> q6_high_shift(i)) & 3;
  return (low | (high << 4)) - 32;
}

// Runs of consecutive elements whose byte and bit positions are affine in the index, so
// that walkers loop over a run without branches: 16 suits every layout (legacy 4/5-bit
// blocks split at element 16); Q8_0 is one plain run of 32 (measured fastest).
template <typename Block>
inline constexpr int kRun = 16;
template <>
inline constexpr int kRun<BlockQ8_0> = 32;

template <typename Block>
CONCORD_HD float element(const Block& b, int i) {
  const Affine a = group_affine(b, i / kGroup<Block>);
  return a.scale * static_cast<float>(quant(b, i)) + a.offset;
}

// Plain float formats, as "blocks" of one element.
struct F32Element {
  float v;
};
struct F16Element {
  uint16_t v;
};
struct BF16Element {
  uint16_t v;
};
CONCORD_HD float element(const F32Element& b, int) {
  return b.v;
}
CONCORD_HD float element(const F16Element& b, int) {
  return f16_to_f32(b.v);
}
CONCORD_HD float element(const BF16Element& b, int) {
  return bf16_to_f32(b.v);
}

}  // namespace concord::decode
