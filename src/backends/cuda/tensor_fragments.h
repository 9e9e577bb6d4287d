// The operands of the tensor-core decode products (matvec_tensor.cuh), as functions of a
// lane and a staged block that compile for the host too, so that a unit test can rebuild
// a warp's mma.m16n8k16 from them on the CPU (tests/backend/tensor_fragments_test.cpp).
//
// The mma's 16 rows are a tile's row pieces (gated tiles: 8 gate rows, then the matching 8
// up rows). Lane (g = lane / 4, t = lane % 4) supplies rows g and g + 8 at k-slots
// {2t, 2t + 1, 2t + 8, 2t + 9} of each of a block's two mmas. The k order of a product is
// free as long as x is staged in the same order, so lane t takes the codes of whole bytes it
// reads as words (Q4_0: 4 of a block's 16 qs bytes, which depend on its parity; Q8_0:
// qs[8t, 8t + 8); Q4_K: 8 bytes of a sub-block pair's 32), and x is staged per 32-element step
// as 4 runs of 8 halves, run t in lane t's k order: one 16-byte load per step serves 16 rows
// (batched steps: B's columns are tokens).
//
// An fp16 code operand is the code under a magic exponent (one LOP3 or byte permute per pair
// of codes, no subtraction): its value is c + q for a constant c. A block's sums are then
//   sum_j (c_j + q_j) x_j = sum_j (q_j - bias) x_j + K,  K = sum_j (c_j + bias) x_j,
// with K staged once per block for every row: row · x += d * (sums - K).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#endif

#include "quant/blocks.h"
#include "util/half.h"
#include "util/hd.h"

namespace concord::cuda::tensor {

// __byte_perm: byte i of the result is byte (selector nibble i) of the pair {hi, lo}.
CONCORD_HD uint32_t byte_perm(uint32_t lo, uint32_t hi, uint32_t selector) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(lo, hi, selector);
#else
  const uint64_t pair = static_cast<uint64_t>(hi) << 32 | lo;
  uint32_t out = 0;
  for (int i = 0; i < 4; ++i) {
    const int from = (selector >> (4 * i)) & 7;
    out |= static_cast<uint32_t>(pair >> (8 * from) & 0xff) << (8 * i);
  }
  return out;
#endif
}

// (a & kMask) | kBits in one LOP3 (written plainly, the compiler emits two).
template <uint32_t kMask, uint32_t kBits>
CONCORD_HD uint32_t and_or(uint32_t a) {
#if defined(__CUDA_ARCH__)
  uint32_t out;
  asm("lop3.b32 %0, %1, %2, %3, 0xea;" : "=r"(out) : "r"(a), "n"(kMask), "n"(kBits));
  return out;
#else
  return (a & kMask) | kBits;
#endif
}

// The low word of (hi:lo) >> shift, shift < 32.
CONCORD_HD uint32_t funnel_right(uint32_t lo, uint32_t hi, uint32_t shift) {
#if defined(__CUDA_ARCH__)
  return __funnelshift_r(lo, hi, shift);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(hi) << 32 | lo) >> shift);
#endif
}

// The fp16 value at byte `offset` (even).
CONCORD_HD float half_at(const uint8_t* bytes, uint32_t offset) {
#if defined(__CUDA_ARCH__)
  return __half2float(*reinterpret_cast<const __half*>(bytes + offset));
#else
  uint16_t bits;
  std::memcpy(&bits, bytes + offset, sizeof bits);
  return f16_to_f32(bits);
#endif
}

// The fp16 value whose bits are the low 16 of `bits`.
CONCORD_HD float half_bits(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
#else
  return f16_to_f32(static_cast<uint16_t>(bits));
#endif
}

// The 16 bytes at `bytes` (16-byte aligned on the device) as 4 words, in one load.
CONCORD_HD void words16(const uint8_t* bytes, uint32_t (&w)[4]) {
#if defined(__CUDA_ARCH__)
  const uint4 v = *reinterpret_cast<const uint4*>(bytes);
  w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
#else
  std::memcpy(w, bytes, sizeof w);
#endif
}

// The 8 bytes at `bytes` (8-byte aligned on the device) as 2 words, in one load.
CONCORD_HD void words8(const uint8_t* bytes, uint32_t (&w)[2]) {
#if defined(__CUDA_ARCH__)
  const uint2 v = *reinterpret_cast<const uint2*>(bytes);
  w[0] = v.x, w[1] = v.y;
#else
  std::memcpy(w, bytes, sizeof w);
#endif
}

// v as a float, exactly for v < 2^23: v in the mantissa under 2^23's exponent, less 2^23 (a
// LOP and a FADD on the fp32 pipes, where I2F takes the slower conversion pipe).
CONCORD_HD float small_float(uint32_t v) {
  constexpr uint32_t kTwoTo23Bits = 0x4b000000u;
  constexpr float kTwoTo23 = 8388608.0f;
  const uint32_t bits = kTwoTo23Bits | v;
#if defined(__CUDA_ARCH__)
  const float biased = __uint_as_float(bits);
#else
  float biased;
  std::memcpy(&biased, &bits, sizeof biased);
#endif
  return biased - kTwoTo23;
}

// Lane t's k order: its pairs of slots (2t, 2t + 1) and (2t + 8, 2t + 9) take elements
// (e, e + 2) and (e + 1, e + 3) of a run of 4 (the pairs a LOP3 or permute yields).
CONCORD_HD int pair_order(int p) {
  return p == 1 ? 2 : p == 2 ? 1 : p;
}

// Per format: element(block, t, p), the element of block `block` of a row at position p of lane
// t's 8 staged halves (positions 0-3 feed the block's first mma, 4-7 its second; only Q4_0's
// depend on the block, by its parity); constant(p), that element's
// c + bias; and operands(), the lane's four fp16 pairs of one row (a[0], a[1]: the first
// mma's slots 2t.. and 2t + 8..; a[2], a[3]: the second's) and the row's scale d.
template <typename Block>
struct Operands;

// Q4_0, a pair of blocks at a time: blocks 2i and 2i + 1 are 36 bytes from byte 36i of a row
// piece, word-aligned, and their words 0-8 hold
//   d0 | qs0[0, 2) << 16,  qs0[2, 14),  qs0[14, 16) | d1 << 16,  qs1[0, 16).
// Lane t takes a word of 4 code bytes of each block: of the odd block word 5 + t (bytes 4t ..
// 4t + 3); of the even block word 1 + t (bytes 2 + 4t ..) for t < 3, while lane 3 takes the
// bytes at either end (0, 1, 14, 15) permuted from words 0 and 4, which every lane reads for
// d0 and d1. That is 4 shared loads per row and pair; a block at a time took 5 and a funnel
// shift (an even block's codes straddle words): tg128 1B +1.3%, 8B +0.6% on an H100. A word's low
// nibbles of bytes 0 and 2 under 0x6400 (1024, fp16 step 1) are 1024 + q; high nibbles under 0x5400
// (64, step 1/16) are 64 + q: the elements of the code bytes and those + 16. Bias 8.
template <>
struct Operands<BlockQ4_0> {
  // The qs byte at byte k of lane t's word of block `block` (of the row: its parity counts).
  static CONCORD_HD int code_byte(int block, int t, int k) {
    if (block % 2 == 1) return 4 * t + k;
    if (t < 3) return 2 + 4 * t + k;
    return k < 2 ? k : 12 + k;
  }
  static CONCORD_HD int element(int block, int t, int p) {
    return 16 * (p / 4) + code_byte(block, t, pair_order(p % 4));
  }
  static CONCORD_HD float constant(int p) { return p < 4 ? 1024.0f + 8 : 64.0f + 8; }
  // The fp16 pairs of a word of codes: code bytes (0, 2), (1, 3), then the same + 16.
  static CONCORD_HD void codes(uint32_t w, uint32_t (&a)[4]) {
    const uint32_t w8 = w >> 8;
    a[0] = and_or<0x000f000fu, 0x64006400u>(w);
    a[1] = and_or<0x000f000fu, 0x64006400u>(w8);
    a[2] = and_or<0x00f000f0u, 0x54005400u>(w);
    a[3] = and_or<0x00f000f0u, 0x54005400u>(w8);
  }
  // Lane t's operands and the scales d of blocks 2 * pair (even) and 2 * pair + 1 of a row
  // piece (4-byte aligned).
  static CONCORD_HD void pair_operands(const uint8_t* piece, int pair, int t, uint32_t (&even)[4],
                                       uint32_t (&odd)[4], float& d_even, float& d_odd) {
    const auto* words = reinterpret_cast<const uint32_t*>(piece + 2 * sizeof(BlockQ4_0) *
                                                                      static_cast<uint32_t>(pair));
    const uint32_t first = words[0], last = words[4];
    const uint32_t inner = words[1 + t];  // lane 3: word 4 again, not used
    codes(t < 3 ? inner : byte_perm(first, last, 0x5432), even);
    codes(words[5 + t], odd);
    d_even = half_bits(first), d_odd = half_bits(last >> 16);
  }
};

// Q8_0: two words of qs bytes hold elements 8t + [0, 8); flipping the sign bits gives
// unsigned codes (q + 128), which a byte permute puts under 0x64: 1024 + 128 + q.
template <>
struct Operands<BlockQ8_0> {
  static CONCORD_HD int element(int /*block*/, int t, int p) {
    return 8 * t + 4 * (p / 4) + pair_order(p % 4);
  }
  static CONCORD_HD float constant(int) { return 1024.0f + 128; }
  static CONCORD_HD float operands(const uint8_t* piece, int block, int t, uint32_t (&a)[4]) {
    const uint32_t at = block * static_cast<uint32_t>(sizeof(BlockQ8_0));
    // The 8 bytes at `first`: two words in odd blocks, else three (the compiler would not
    // share the middle one between two word_at calls).
    const uint32_t first = at + 2 + 8 * t;
    const uint32_t* words = reinterpret_cast<const uint32_t*>(piece) + first / 4;
    uint32_t lo, hi;
    if (first % 4 == 0) {
      lo = words[0], hi = words[1];
    } else {
      const uint32_t middle = words[1];
      lo = funnel_right(words[0], middle, 16), hi = funnel_right(middle, words[2], 16);
    }
    lo ^= 0x80808080u, hi ^= 0x80808080u;
    a[0] = byte_perm(lo, 0x64646464u, 0x5240);  // elements 8t, 8t + 2
    a[1] = byte_perm(lo, 0x64646464u, 0x5341);  // 8t + 1, 8t + 3
    a[2] = byte_perm(hi, 0x64646464u, 0x5240);  // 8t + 4, 8t + 6
    a[3] = byte_perm(hi, 0x64646464u, 0x5341);
    return half_at(piece, at);
  }
};

// Q4_K: a 256-element super-block is 8 sub-blocks of 32, each with a 6-bit scale and min;
// sub-blocks 2j and 2j + 1 are the low and high nibbles of qs[32j, 32j + 32), element i of
// either in byte 32j + i. A warp takes a super-block at a time, such a pair after pair: lane
// t reads qs bytes 32j + 8t .. + 8 (elements 8t + [0, 8) of both sub-blocks) in one load; low
// nibbles under 0x6400 are 1024 + q (the first two mmas), high ones under 0x5400 64 + q (the
// last two). x is staged per sub-block in lane order with its plain sum S (constant 1): a
// sub-block adds
//   s (sums - c S) - dmin m S = s sums - u S,  s = d scale, u = s c + dmin m.
template <>
struct Operands<BlockQ4_K> {
  static CONCORD_HD int element(int /*block*/, int t, int p) {
    return 8 * t + 4 * (p / 4) + pair_order(p % 4);
  }
  static CONCORD_HD float constant(int) { return 1.0f; }
  static CONCORD_HD void operands(const uint8_t* block, int j, int t, uint32_t (&low)[4],
                                  uint32_t (&high)[4]) {
    uint32_t words[2];
    words8(block + 16 + 32 * j + 8 * t, words);
    const uint32_t w[4] = {words[0], words[0] >> 8, words[1], words[1] >> 8};
    CONCORD_UNROLL
    for (int i = 0; i < 4; ++i) {
      low[i] = and_or<0x000f000fu, 0x64006400u>(w[i]);  // elements 8t + {0, 2}, {1, 3}, ...
      high[i] = and_or<0x00f000f0u, 0x54005400u>(w[i]);
    }
  }
  // A super-block's 16-byte head, read in one load and converted once for its 8 sub-blocks:
  // d and dmin, then the 12 scale bytes (laid out as decode::scale_min_k4 reads them), whose
  // bytes k, k + 4, k + 8 (k = sb % 4) hold sub-block sb's scale and min.
  struct Head {
    float d, dmin;
    uint32_t scales[3];
  };
  static CONCORD_HD Head head(const uint8_t* block) {
    uint32_t w[4];
    words16(block, w);
    return {half_bits(w[0]), half_bits(w[0] >> 16), {w[1], w[2], w[3]}};
  }
  // s and u of sub-block sb (c: 1024 for the even sub-blocks' codes, 64 for the odd ones').
  static CONCORD_HD void scale(const Head& head, int sb, float& s, float& u) {
    const uint32_t shift = 8 * (sb % 4);
    const uint32_t b0 = head.scales[0] >> shift, b4 = head.scales[1] >> shift,
                   b8 = head.scales[2] >> shift;
    const uint32_t scale = sb < 4 ? b0 & 63 : (b8 & 0x0f) | (b0 >> 6 & 3) << 4;
    const uint32_t min = sb < 4 ? b4 & 63 : (b8 >> 4 & 0x0f) | (b4 >> 6 & 3) << 4;
    s = head.d * small_float(scale);
    u = s * (sb % 2 == 0 ? 1024.0f : 64.0f) + head.dmin * small_float(min);
  }
  // Which (row, sub-block of the pair) lane `lane` computes s and u for, and back: every lane
  // one, shared by shuffles (the 4 lanes of a quad would otherwise repeat the same work).
  static CONCORD_HD int scale_row(int lane) { return lane % 16; }
  static CONCORD_HD int scale_half(int lane) { return lane / 16; }
  static CONCORD_HD int scale_lane(int row, int half) { return 16 * half + row; }
};

// Q5_K: Q4_K's super-block (d, dmin and the 12 scale bytes as its head; qs at byte 48) with a
// fifth bit an element in qh[32] at byte 16: bit 2j of qh[l] is element 64j + l's (the low
// nibble of qs[32j + l]), bit 2j + 1 element 64j + 32 + l's (the high nibble). The bit joins
// the codes under Q4_K's exponents: 1024 + q and 64 + q, q < 32. Everything else is Q4_K's.
template <>
struct Operands<BlockQ5_K> : Operands<BlockQ4_K> {
  static CONCORD_HD void operands(const uint8_t* block, int j, int t, uint32_t (&low)[4],
                                  uint32_t (&high)[4]) {
    uint32_t codes[2], bits[2];
    words8(block + 48 + 32 * j + 8 * t, codes);
    words8(block + 16 + 8 * t, bits);
    const uint32_t w[4] = {codes[0], codes[0] >> 8, codes[1], codes[1] >> 8};
    const uint32_t b[4] = {bits[0] >> 2 * j, bits[0] >> (2 * j + 8), bits[1] >> 2 * j,
                           bits[1] >> (2 * j + 8)};
    CONCORD_UNROLL
    for (int i = 0; i < 4; ++i) {
      low[i] = and_or<0x000f000fu, 0x64006400u>(w[i]) | (b[i] & 0x00010001u) << 4;
      high[i] = and_or<0x00f000f0u, 0x54005400u>(w[i]) | (b[i] >> 1 & 0x00010001u) << 8;
    }
  }
};

// The word at byte `offset` (even) of an array of words: one load where it is aligned, else
// the halves of two (Q6_K's odd super-blocks start 2 bytes into a word). Indexing the array,
// not an integer address, keeps shared-memory loads shared-memory ones.
CONCORD_HD uint32_t word_at(const uint32_t* words, uint32_t offset) {
  const uint32_t low = words[offset / 4];
  return offset % 4 == 0 ? low : funnel_right(low, words[offset / 4 + 1], 16);
}

// Each fp16 of a pair less 1056: codes under 0x6400 (1024 + q) become q - 32, exactly.
CONCORD_HD uint32_t less_1056(uint32_t pair) {
#if defined(__CUDA_ARCH__)
  const __half2 v = __hsub2(*reinterpret_cast<const __half2*>(&pair), __float2half2_rn(1056.0f));
  return *reinterpret_cast<const uint32_t*>(&v);
#else
  const auto less = [](uint32_t bits) {
    return static_cast<uint32_t>(f32_to_f16(f16_to_f32(static_cast<uint16_t>(bits)) - 1056.0f));
  };
  return less(pair & 0xffffu) | less(pair >> 16) << 16;
#endif
}

// Q6_K: a 256-element super-block of 210 bytes: ql[128] (low 4 bits), qh[64] (high 2 bits),
// 16 int8 scales (one per 16 elements), d. Step s (elements 32s .. 32s + 32; n = s / 4,
// quadrant j = s % 4) takes element l's low bits from nibble j / 2 of ql[64n + 32(j % 2) + l]
// and its high bits from bits 2j of qh[32n + l]. Lane t takes elements 4t .. 4t + 3 of each
// half of the step (one word of ql and one of qh each): the first mma is the half of scale
// 2s, the second that of 2s + 1, so each keeps its own scale. Codes are signed (q - 32,
// exact in fp16), so there is no constant K. A super-block may start at any even byte of a
// word (210 is 2 mod 4, and staged rows may start off a 16-byte boundary: matvec_stream.cuh).
template <>
struct Operands<BlockQ6_K> {
  static CONCORD_HD int element(int /*block*/, int t, int p) {
    return 16 * (p / 4) + 4 * t + pair_order(p % 4);
  }
  static CONCORD_HD float constant(int) { return 0.0f; }
  // Lane t's operands of step s of the super-block at byte `at` (even) of a 4-byte aligned
  // slot, and d times the scales of the step's halves.
  static CONCORD_HD void operands(const uint8_t* slot, uint32_t at, int s, int t, uint32_t (&a)[4],
                                  float (&scale)[2]) {
    const auto* words = reinterpret_cast<const uint32_t*>(slot);
    const int n = s / 4, j = s % 4;
    CONCORD_UNROLL
    for (int h = 0; h < 2; ++h) {
      const uint32_t ql = word_at(words, at + 64 * n + 32 * (j % 2) + 16 * h + 4 * t);
      const uint32_t qh = word_at(words, at + 128 + 32 * n + 16 * h + 4 * t);
      const uint32_t low_bits = ql >> 4 * (j / 2) & 0x0f0f0f0fu;
      const uint32_t high_bits = (qh >> 2 * j & 0x03030303u) << 4;
      const uint32_t codes = low_bits | high_bits;  // 4 codes of 6 bits, a byte each
      a[2 * h] = less_1056(byte_perm(codes, 0x64646464u, 0x5240));      // elements 0, 2 of 4
      a[2 * h + 1] = less_1056(byte_perm(codes, 0x64646464u, 0x5341));  // 1, 3
    }
    const uint32_t scales = at + 192 + 2 * s;  // the step's two, an even offset
    const uint32_t pair = words[scales / 4] >> 16 * (scales / 2 % 2);
    const float d = half_at(slot, at + 208);
    scale[0] = d * static_cast<float>(static_cast<int8_t>(pair & 0xff));
    scale[1] = d * static_cast<float>(static_cast<int8_t>(pair >> 8 & 0xff));
  }
};

// Lane t's run of a staged block: `h` holds the lane's 8 elements (bits) in its k order
// (element(t, 0..7)); returns their part of the block's constant K.
template <typename Block>
CONCORD_HD float stage_run(const uint16_t (&h)[8], uint32_t (&run)[4]) {
  float k = 0.0f;
  CONCORD_UNROLL
  for (int w = 0; w < 4; ++w) {
    run[w] = h[2 * w] | static_cast<uint32_t>(h[2 * w + 1]) << 16;
#if defined(__CUDA_ARCH__)
    const float lo = __half2float(__ushort_as_half(h[2 * w])),
                hi = __half2float(__ushort_as_half(h[2 * w + 1]));
#else
    const float lo = f16_to_f32(h[2 * w]), hi = f16_to_f32(h[2 * w + 1]);
#endif
    k += Operands<Block>::constant(2 * w) * lo + Operands<Block>::constant(2 * w + 1) * hi;
  }
  return k;
}

// Staged block `block` of a row: runs[4t .. 4t + 4) are lane t's 8 halves (two per word, the
// lower element in the low half), k its constant K. `h` holds x's 32 halves (bits) in order.
template <typename Block>
CONCORD_HD float stage_block(int block, const uint16_t (&h)[32], uint32_t (&runs)[16]) {
  float k = 0.0f;
  CONCORD_UNROLL
  for (int t = 0; t < 4; ++t) {
    uint16_t mine[8];
    CONCORD_UNROLL
    for (int p = 0; p < 8; ++p) mine[p] = h[Operands<Block>::element(block, t, p)];
    uint32_t run[4];
    k += stage_run<Block>(mine, run);
    CONCORD_UNROLL
    for (int w = 0; w < 4; ++w) runs[4 * t + w] = run[w];
  }
  return k;
}

// Batched steps (up to 8 tokens): B's column g is token g's x, so lane (g, t) supplies
// token column_token(g) and ends with D's columns 2t and 2t + 1, tokens 2t + c (c = 0, 1);
// columns past the batch repeat its last token and are not stored.
CONCORD_HD int column_token(int g, int tokens) {
  return g < tokens ? g : tokens - 1;
}
CONCORD_HD int result_token(int t, int c) {
  return 2 * t + c;
}

// The operands of two mmas for lane (g, t): a[m] and b[m] for mma m, whose A pairs are
// (row g, slots 2t..), (row g + 8, 2t..), (row g, 2t + 8..), (row g + 8, 2t + 8..) and B
// pairs column g at slots 2t.. and 2t + 8..; d and d8 scale rows g and g + 8 (legacy blocks).
struct BlockOperands {
  uint32_t a[2][4];
  uint32_t b[2][2];
  float d = 0.0f, d8 = 0.0f;
};
// From a lane's four code pairs of rows g (top) and g + 8 (bottom) in Operands' order and
// its staged run of x.
CONCORD_HD BlockOperands fragments(const uint32_t (&top)[4], const uint32_t (&bottom)[4],
                                   const uint32_t (&run)[4]) {
  BlockOperands o;
  CONCORD_UNROLL
  for (int m = 0; m < 2; ++m) {
    o.a[m][0] = top[2 * m], o.a[m][1] = bottom[2 * m];
    o.a[m][2] = top[2 * m + 1], o.a[m][3] = bottom[2 * m + 1];
    o.b[m][0] = run[2 * m], o.b[m][1] = run[2 * m + 1];
  }
  return o;
}
// A Q8_0 block of two row pieces.
template <typename Block>
CONCORD_HD BlockOperands block_operands(const uint8_t* top_piece, const uint8_t* bottom_piece,
                                        int block, int t, const uint32_t (&run)[4]) {
  uint32_t top[4], bottom[4];
  const float d = Operands<Block>::operands(top_piece, block, t, top);
  const float d8 = Operands<Block>::operands(bottom_piece, block, t, bottom);
  BlockOperands o = fragments(top, bottom, run);
  o.d = d, o.d8 = d8;
  return o;
}

}  // namespace concord::cuda::tensor
