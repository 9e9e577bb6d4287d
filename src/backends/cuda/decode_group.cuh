// Decoding 8 consecutive elements [first, first + 8) of a weight row (first % 8 == 0) for
// the matrix-vector kernels. 8 elements never straddle a scale group, so a decoder
// returns the 8 integer codes q (as exact floats) and the group's affine map, element =
// scale * q + offset; the kernel folds the map into the dot product once per group:
//   sum_j (scale * q_j + offset) * x_j = scale * sum_j q_j * x_j + offset * sum_j x_j.
// Plain float formats return the values themselves (kAffine = false); kOffset says
// whether a format's offset can be non-zero (else the x sum is skipped).
//
// Codes become floats without integer-to-float conversions (a quarter-rate instruction
// on sm_90): a byte permute puts each 8-bit code under the exponent of 2^23, and one
// subtraction of 2^23 (+ the code's bias) leaves the exact value. The generic decoder
// covers the remaining formats through decode::quant; the op harness checks every one
// against the CPU reference.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "quant/decode.h"
#include "quant/types.h"
#include "util/error.h"

namespace concord::cuda {

// Calls f(Tag<Block, elements per block>{}) for a weight type: the one place that maps
// GgmlType to its device decoder.
template <typename B, int N>
struct Tag {
  using Block = B;
  static constexpr int kBlockSize = N;
};
template <typename F>
void dispatch(GgmlType type, F&& f) {
  switch (type) {
    case GgmlType::F32:
      return f(Tag<decode::F32Element, 1>{});
    case GgmlType::F16:
      return f(Tag<decode::F16Element, 1>{});
    case GgmlType::BF16:
      return f(Tag<decode::BF16Element, 1>{});
    case GgmlType::Q4_0:
      return f(Tag<BlockQ4_0, kQK>{});
    case GgmlType::Q4_1:
      return f(Tag<BlockQ4_1, kQK>{});
    case GgmlType::Q5_0:
      return f(Tag<BlockQ5_0, kQK>{});
    case GgmlType::Q5_1:
      return f(Tag<BlockQ5_1, kQK>{});
    case GgmlType::Q8_0:
      return f(Tag<BlockQ8_0, kQK>{});
    case GgmlType::Q2_K:
      return f(Tag<BlockQ2_K, kQKK>{});
    case GgmlType::Q3_K:
      return f(Tag<BlockQ3_K, kQKK>{});
    case GgmlType::Q4_K:
      return f(Tag<BlockQ4_K, kQKK>{});
    case GgmlType::Q5_K:
      return f(Tag<BlockQ5_K, kQKK>{});
    case GgmlType::Q6_K:
      return f(Tag<BlockQ6_K, kQKK>{});
    default:
      fail("the CUDA backend has no kernel for weight type {}", type_name(type));
  }
}

// Bytes k..k+3 of the packed word w as exact floats minus `bias`.
__device__ __forceinline__ void bytes_to_floats(uint32_t w, float bias, float* out) {
  const float magic = 8388608.0f + bias;  // 2^23 + bias
#pragma unroll
  for (int k = 0; k < 4; ++k)
    out[k] = __uint_as_float(__byte_perm(w, 0x4B000000u, 0x7540 + k)) - magic;
}

// Four 4-bit codes (the low nibbles of w's bytes) as the floats 1 + q/128: one byte permute
// each puts 1000qqqq under the exponent of 1.0 (no subtraction, unlike bytes_to_floats).
// Sums of these against x give sum_j q_j x_j = 128 (sum_j f_j x_j - sum_j x_j), which the
// wide decoders fold into their affine maps (relative error ~1e-6 from the cancellation).
__device__ __forceinline__ void nibbles_to_unit_floats(uint32_t w, float* out) {
  const uint32_t biased = (w & 0x0f0f0f0fu) | 0x80808080u;
#pragma unroll
  for (int k = 0; k < 4; ++k)
    out[k] = __uint_as_float(__byte_perm(biased, 0x3f000000u, 0x7044 + (k << 8)));
}

// 8 bytes starting at a 2-byte aligned address (legacy blocks are 18, 22 or 34 bytes long).
__device__ __forceinline__ uint2 load8_aligned2(const uint8_t* p) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
  return {h[0] | static_cast<uint32_t>(h[1]) << 16, h[2] | static_cast<uint32_t>(h[3]) << 16};
}

// Generic: codes through decode::quant.
template <typename Block, int BS>
struct GroupDecoder {
  static constexpr bool kAffine = true;
  static constexpr bool kOffset = true;
  static __device__ __forceinline__ decode::Affine decode(const Block* row, int64_t first,
                                                          float (&q)[8]) {
    const Block& b = row[first / BS];
    const int i0 = static_cast<int>(first % BS);
#pragma unroll
    for (int j = 0; j < 8; ++j) q[j] = static_cast<float>(decode::quant(b, i0 + j));
    return decode::group_affine(b, i0 / decode::kGroup<Block>);
  }
};

// 16 bytes of weights, which a step reads once: they bypass L1 (ld.global.nc with
// L1::no_allocate), so the activations every warp re-reads stay there (docs/perf.md: 8B F16
// tg128 153 -> 162 t/s, 1B 688 -> 765, Q4_K +3 to +7%). Not for the legacy blocks' 4-byte
// words (LegacyWords): neighbouring lanes' blocks share sectors that L1 then no longer
// serves twice (8B Q8_0 238 -> 92 t/s). The asm reads no memory the compiler knows of, so it
// may schedule the load anywhere, even before griddepcontrol.wait: right for weights, which
// no kernel writes; never use it for data a kernel produces.
__device__ __forceinline__ uint4 load_weights16(const void* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
}

// Plain float formats: 8 elements are 16 or 32 contiguous bytes (aligned: rows of these
// types are multiples of 8 elements wherever this decoder runs).
template <>
struct GroupDecoder<decode::F32Element, 1> {
  static constexpr bool kAffine = false;
  static constexpr bool kOffset = false;
  static __device__ __forceinline__ decode::Affine decode(const decode::F32Element* row,
                                                          int64_t first, float (&v)[8]) {
    const uint4 a = load_weights16(row + first), b = load_weights16(row + first + 4);
    const uint32_t words[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] = __uint_as_float(words[k]);
    return {1.0f, 0.0f};
  }
};
template <>
struct GroupDecoder<decode::F16Element, 1> {
  static constexpr bool kAffine = false;
  static constexpr bool kOffset = false;
  static __device__ __forceinline__ decode::Affine decode(const decode::F16Element* row,
                                                          int64_t first, float (&v)[8]) {
    const uint4 w = load_weights16(row + first);
    const __half2* h = reinterpret_cast<const __half2*>(&w);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float2 f = __half22float2(h[k]);
      v[2 * k] = f.x, v[2 * k + 1] = f.y;
    }
    return {1.0f, 0.0f};
  }
};
template <>
struct GroupDecoder<decode::BF16Element, 1> {
  static constexpr bool kAffine = false;
  static constexpr bool kOffset = false;
  static __device__ __forceinline__ decode::Affine decode(const decode::BF16Element* row,
                                                          int64_t first, float (&v)[8]) {
    const uint4 w = load_weights16(row + first);
    const uint32_t words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      v[2 * k] = __uint_as_float(words[k] << 16);
      v[2 * k + 1] = __uint_as_float(words[k] & 0xffff0000u);
    }
    return {1.0f, 0.0f};
  }
};

// Q8_0: 8 signed bytes; flipping the sign bits makes them unsigned codes biased by 128.
template <>
struct GroupDecoder<BlockQ8_0, kQK> {
  static constexpr bool kAffine = true;
  static constexpr bool kOffset = false;
  static __device__ __forceinline__ decode::Affine decode(const BlockQ8_0* row, int64_t first,
                                                          float (&q)[8]) {
    const BlockQ8_0& b = row[first / kQK];
    const uint2 w = load8_aligned2(reinterpret_cast<const uint8_t*>(b.qs) + first % kQK);
    bytes_to_floats(w.x ^ 0x80808080u, 128.0f, q);
    bytes_to_floats(w.y ^ 0x80808080u, 128.0f, q + 4);
    return {__half2float(__ushort_as_half(b.d)), 0.0f};
  }
};

// Q4_0: elements j < 16 are the low nibbles of qs[j], j >= 16 the high ones; bias 8.
template <>
struct GroupDecoder<BlockQ4_0, kQK> {
  static constexpr bool kAffine = true;
  static constexpr bool kOffset = false;
  static __device__ __forceinline__ decode::Affine decode(const BlockQ4_0& b, int i0,
                                                          float (&q)[8]) {
    const uint2 w = load8_aligned2(b.qs + i0 % 16);
    const int shift = i0 < 16 ? 0 : 4;
    bytes_to_floats((w.x >> shift) & 0x0f0f0f0fu, 8.0f, q);
    bytes_to_floats((w.y >> shift) & 0x0f0f0f0fu, 8.0f, q + 4);
    return {__half2float(__ushort_as_half(b.d)), 0.0f};
  }
  static __device__ __forceinline__ decode::Affine decode(const BlockQ4_0* row, int64_t first,
                                                          float (&q)[8]) {
    return decode(row[first / kQK], static_cast<int>(first % kQK), q);
  }
};

// Q4_K: 8 consecutive elements are one nibble of 8 consecutive qs bytes (one 8-byte load:
// qs sits 16 bytes into a 144-byte block); scale and min per 32-element sub-block.
template <>
struct GroupDecoder<BlockQ4_K, kQKK> {
  static constexpr bool kAffine = true;
  static constexpr bool kOffset = true;
  static __device__ __forceinline__ decode::Affine decode(const BlockQ4_K* row, int64_t first,
                                                          float (&q)[8]) {
    const BlockQ4_K& b = row[first / kQKK];
    const int i0 = static_cast<int>(first % kQKK);
    const uint2 w = *reinterpret_cast<const uint2*>(b.qs + decode::nibble_byte(i0));
    const int shift = decode::nibble_shift(i0);
    bytes_to_floats((w.x >> shift) & 0x0f0f0f0fu, 0.0f, q);
    bytes_to_floats((w.y >> shift) & 0x0f0f0f0fu, 0.0f, q + 4);
    int scale, min;
    decode::scale_min_k4(b.scales, i0 / 32, scale, min);
    return {__half2float(__ushort_as_half(b.d)) * static_cast<float>(scale),
            -__half2float(__ushort_as_half(b.dmin)) * static_cast<float>(min)};
  }
};

// Q6_K: low 4 bits from ql, high 2 from qh, 8 consecutive bytes of each; bias 32.
template <>
struct GroupDecoder<BlockQ6_K, kQKK> {
  static constexpr bool kAffine = true;
  static constexpr bool kOffset = false;
  static __device__ __forceinline__ decode::Affine decode(const BlockQ6_K* row, int64_t first,
                                                          float (&q)[8]) {
    const BlockQ6_K& b = row[first / kQKK];
    const int i0 = static_cast<int>(first % kQKK);
    const uint2 low = load8_aligned2(b.ql + decode::q6_low_byte(i0));
    const uint2 high = load8_aligned2(b.qh + decode::q6_high_byte(i0));
    const int ls = decode::q6_low_shift(i0), hs = decode::q6_high_shift(i0);
    bytes_to_floats(((low.x >> ls) & 0x0f0f0f0fu) | (((high.x >> hs) & 0x03030303u) << 4), 32.0f,
                    q);
    bytes_to_floats(((low.y >> ls) & 0x0f0f0f0fu) | (((high.y >> hs) & 0x03030303u) << 4), 32.0f,
                    q + 4);
    return {__half2float(__ushort_as_half(b.d)) * static_cast<float>(b.scales[i0 / 16]), 0.0f};
  }
};

// Lane steps of 32 elements for the wide loop of the matrix-vector kernel: a lane decodes
// 32 codes from one load of 16 bytes or more (instead of 8 from 4), so each warp keeps four
// times the weight bytes in flight. A step is two halves of 16 elements, each with one affine
// map, in pieces of 4 consecutive elements: piece_start(step, p) is the first element of
// piece p, which decodes to q[p / 4][4 (p % 4) .. + 4). Decoding has two
// phases so that a warp issues the loads of all its rows before it waits on any: load()
// returns the step's raw words, decode() turns them into q[h][0..16) and affine[h].
// Formats without a specialisation take the 8-element loop.
template <typename Block>
struct StepDecoder {
  static constexpr bool kWide = false;
};

// The raw words of a legacy block (Q4_0: 18 bytes, Q8_0: 34) at a 2-byte aligned address:
// W + 1 aligned 32-bit loads from the word boundary at or before it; funnel shifts then
// give the fp16 scale and the W code words after it. Reads up to 2 bytes past the block when
// it starts 4-byte aligned: the caller guarantees a next block there (rows of an even number
// of blocks starting 4-byte aligned, so every such block is followed by an odd one).
template <int W>
struct LegacyWords {
  uint32_t w[W + 1];
  bool odd;  // the block starts at the second half of w[0]

  static __device__ __forceinline__ LegacyWords load(const void* block) {
    const auto address = reinterpret_cast<uintptr_t>(block);
    const uint32_t* base = reinterpret_cast<const uint32_t*>(address & ~uintptr_t{3});
    LegacyWords raw;
#pragma unroll
    for (int i = 0; i <= W; ++i) raw.w[i] = base[i];
    raw.odd = (address & 3) != 0;
    return raw;
  }
  // The same for the block starting at byte `offset` (even) of an array of words in shared
  // memory (indexing the array, not an integer address, keeps the loads shared-memory ones).
  static __device__ __forceinline__ LegacyWords at(const uint32_t* words, uint32_t offset) {
    LegacyWords raw;
#pragma unroll
    for (int i = 0; i <= W; ++i) raw.w[i] = words[offset / 4 + i];
    raw.odd = (offset & 3) != 0;
    return raw;
  }
  __device__ __forceinline__ float scale_and_codes(uint32_t (&codes)[W]) const {
#pragma unroll
    for (int i = 0; i < W; ++i) codes[i] = __funnelshift_rc(w[i], w[i + 1], odd ? 32 : 16);
    return __half2float(__ushort_as_half(static_cast<unsigned short>(odd ? w[0] >> 16 : w[0])));
  }
};

// Q4_0: one block per step; low nibbles are elements 0..15, high nibbles 16..31; bias 8.
// Codes come as 1 + q/128, so d (q - 8) x sums to 128 d (f x) - 136 d x.
template <>
struct StepDecoder<BlockQ4_0> {
  static constexpr bool kWide = true;
  static constexpr bool kOffset = true;
  static constexpr int kRowMultiple = 2 * kQK;  // see LegacyWords
  using Raw = LegacyWords<4>;
  static __device__ __forceinline__ int64_t piece_start(int64_t step, int p) {
    return step * kQK + 4 * p;
  }
  static __device__ __forceinline__ Raw load(const BlockQ4_0* row, int64_t step) {
    return Raw::load(row + step);
  }
  // Step `step` of a row piece copied to shared memory (matvec_stream.cuh).
  static __device__ __forceinline__ Raw load_shared(const uint32_t* piece, int step) {
    return Raw::at(piece, step * static_cast<uint32_t>(sizeof(BlockQ4_0)));
  }
  static __device__ __forceinline__ void decode(const Raw& raw, int64_t, float (&q)[2][16],
                                                decode::Affine (&affine)[2]) {
    uint32_t w[4];
    const float d = raw.scale_and_codes(w);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      nibbles_to_unit_floats(w[i], q[0] + 4 * i);
      nibbles_to_unit_floats(w[i] >> 4, q[1] + 4 * i);
    }
    affine[0] = affine[1] = {128.0f * d, -136.0f * d};
  }
};

// Q8_0: one block per step, 32 signed bytes.
template <>
struct StepDecoder<BlockQ8_0> {
  static constexpr bool kWide = true;
  static constexpr bool kOffset = false;
  static constexpr int kRowMultiple = 2 * kQK;
  using Raw = LegacyWords<8>;
  static __device__ __forceinline__ int64_t piece_start(int64_t step, int p) {
    return step * kQK + 4 * p;
  }
  static __device__ __forceinline__ Raw load(const BlockQ8_0* row, int64_t step) {
    return Raw::load(row + step);
  }
  static __device__ __forceinline__ Raw load_shared(const uint32_t* piece, int step) {
    return Raw::at(piece, step * static_cast<uint32_t>(sizeof(BlockQ8_0)));
  }
  static __device__ __forceinline__ void decode(const Raw& raw, int64_t, float (&q)[2][16],
                                                decode::Affine (&affine)[2]) {
    uint32_t w[8];
    const float d = raw.scale_and_codes(w);
#pragma unroll
    for (int i = 0; i < 8; ++i) bytes_to_floats(w[i] ^ 0x80808080u, 128.0f, q[i / 4] + 4 * (i % 4));
    affine[0] = affine[1] = {d, 0.0f};
  }
};

// Q4_K: 8 steps per 256-element block; step k reads the block's 16-byte head (d, dmin, the
// 12 scale bytes) and qs[16k, 16k + 16): low nibbles are elements 64j + 16(k%2) + [0, 16)
// of sub-block 2j (j = k / 2), high nibbles the same 32 elements on, sub-block 2j + 1.
// Codes come as 1 + q/128: (s q - m) x sums to 128 s (f x) - (m + 128 s) x.
template <>
struct StepDecoder<BlockQ4_K> {
  static constexpr bool kWide = true;
  static constexpr bool kOffset = true;
  static constexpr int kRowMultiple = kQKK;
  static __device__ __forceinline__ int64_t piece_start(int64_t step, int p) {
    const int k = static_cast<int>(step % 8);
    return step / 8 * kQKK + 64 * (k / 2) + 16 * (k % 2) + 32 * (p / 4) + 4 * (p % 4);
  }
  struct Raw {
    uint4 head, codes;
  };
  static __device__ __forceinline__ Raw load(const BlockQ4_K* row, int64_t step) {
    const BlockQ4_K& b = row[step / 8];
    return {load_weights16(&b), load_weights16(b.qs + 16 * (step % 8))};
  }
  static __device__ __forceinline__ Raw load_shared(const uint32_t* piece, int step) {
    static_assert(sizeof(BlockQ4_K) == 9 * sizeof(uint4), "head and 8 code runs of 16 bytes");
    const uint4* block = reinterpret_cast<const uint4*>(piece) + 9 * (step / 8);
    return {block[0], block[1 + step % 8]};
  }
  static __device__ __forceinline__ void decode(const Raw& raw, int64_t step, float (&q)[2][16],
                                                decode::Affine (&affine)[2]) {
    const int k = static_cast<int>(step % 8);
    const uint4& head = raw.head;
    const uint32_t w[4] = {raw.codes.x, raw.codes.y, raw.codes.z, raw.codes.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      nibbles_to_unit_floats(w[i], q[0] + 4 * i);
      nibbles_to_unit_floats(w[i] >> 4, q[1] + 4 * i);
    }
    const float d = __half2float(__ushort_as_half(static_cast<unsigned short>(head.x)));
    const float dmin = __half2float(__ushort_as_half(static_cast<unsigned short>(head.x >> 16)));
    // decode::scale_min_k4 from registers: for sub-block sb, bytes sb % 4 of the scale words
    // head.y (bytes 0-3), head.z (4-7) and head.w (8-11) hold everything it needs.
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int sb = 2 * (k / 2) + h, shift = 8 * (sb % 4);
      const int lo = (head.y >> shift) & 0xff, mid = (head.z >> shift) & 0xff,
                hi = (head.w >> shift) & 0xff;
      const int scale = sb < 4 ? lo & 63 : (hi & 0x0f) | ((lo >> 6) << 4);
      const int min = sb < 4 ? mid & 63 : (hi >> 4) | ((mid >> 6) << 4);
      const float s = d * static_cast<float>(scale), m = dmin * static_cast<float>(min);
      affine[h] = {128.0f * s, -(m + 128.0f * s)};
    }
  }
};

}  // namespace concord::cuda
