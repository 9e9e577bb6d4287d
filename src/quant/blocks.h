// Block layouts of the quantised weight formats, byte for byte as GGUF stores them
// (little-endian; f16 fields hold IEEE binary16 bits). QK = 32 elements per block for
// the legacy formats, QK_K = 256 per super-block for the k-quants.
#pragma once

#include <cstdint>

namespace concord {

inline constexpr int kQK = 32;
inline constexpr int kQKK = 256;

// x = d * (q - 8); element j < 16 in the low nibble of qs[j], element j + 16 in the high one.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
// x = d * q + m, q in [0, 15]; same nibble order as Q4_0.
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[kQK / 2];
};
// x = d * (q - 16), q in [0, 31]: low 4 bits as Q4_0, bit 4 of element j is bit j of qh.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
// x = d * q + m, q in [0, 31]; bits as Q5_0.
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
// x = d * q, q in [-128, 127].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};

// 16 sub-blocks of 16: x = d * (scales[b] & 15) * q - dmin * (scales[b] >> 4), q in [0, 3].
// Element i of half h (128 each), r = i % 128: 2 bits at shift 2*(r/32) of qs[32h + r%32].
struct BlockQ2_K {
  uint8_t scales[kQKK / 16];
  uint8_t qs[kQKK / 4];
  uint16_t d, dmin;
};
// 16 sub-blocks of 16: x = d * (s_b - 32) * q, q in [-4, 3]; s_b 6-bit, packed in scales[12]
// (low nibbles in bytes 0..7, high 2-bit pairs in bytes 8..11). Low 2 bits of q as Q2_K,
// bit 2 ("high mask", set means no -4 offset) is bit 4h + r/32 of hmask[r % 32].
struct BlockQ3_K {
  uint8_t hmask[kQKK / 8];
  uint8_t qs[kQKK / 4];
  uint8_t scales[12];
  uint16_t d;
};
// 8 sub-blocks of 32: x = d * sc_b * q - dmin * m_b, q in [0, 15]; 6-bit sc/m packed in
// scales[12]. Sub-blocks 2c and 2c+1 share the bytes qs[32c .. 32c+31] (low, high nibble).
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[kQKK / 2];
};
// As Q4_K with a fifth bit: bit b of qh[i % 32] for element i of sub-block b; q in [0, 31].
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
// 16 sub-blocks of 16: x = d * scales[b] * (q - 32), q in [0, 63]: low 4 bits in ql, high 2
// bits in qh (see quant/kquants.cpp for the interleaving).
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);

}  // namespace concord
