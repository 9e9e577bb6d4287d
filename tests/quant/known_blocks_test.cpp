// One hand-built block per format, decoded exactly. The bytes and the expected values
// were worked out by hand from the block layouts (see quant/blocks.h).
#include <gtest/gtest.h>

#include <cstring>

#include "quant/quant.h"

namespace concord {
namespace {

constexpr uint16_t kHalfOne = 0x3c00, kHalfHalf = 0x3800, kHalfQuarter = 0x3400;
constexpr uint16_t kHalfTwo = 0x4000, kHalfMinusOne = 0xbc00;

struct Bytes {
  std::vector<uint8_t> b;
  void u16(uint16_t v) { b.push_back(v & 0xff), b.push_back(v >> 8); }
  void fill(size_t n, uint8_t v) {
    for (size_t i = 0; i < n; ++i) b.push_back(v);
  }
  template <typename F>
  void each(size_t n, F f) {
    for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(f(i)));
  }
};

std::vector<float> decode(GgmlType t, const Bytes& bytes) {
  const int64_t n = type_info(t).block_size;
  EXPECT_EQ(bytes.b.size(), type_info(t).block_bytes);
  return dequantize(t, bytes.b, n);
}

TEST(KnownBlock, Q4_0) {
  Bytes x;  // d = 0.5; qs[j] = j: element j -> (j - 8) / 2, element j + 16 -> (0 - 8) / 2
  x.u16(kHalfHalf);
  x.each(16, [](size_t j) { return j; });
  const auto y = decode(GgmlType::Q4_0, x);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f);
    EXPECT_EQ(y[j + 16], -4.0f);
  }
}

TEST(KnownBlock, Q4_1) {
  Bytes x;  // d = 1, m = -1; qs[j] = (15 - j) << 4 | j
  x.u16(kHalfOne);
  x.u16(kHalfMinusOne);
  x.each(16, [](size_t j) { return ((15 - j) << 4) | j; });
  const auto y = decode(GgmlType::Q4_1, x);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], j - 1.0f);
    EXPECT_EQ(y[j + 16], 14.0f - j);
  }
}

TEST(KnownBlock, Q5_0) {
  Bytes x;  // d = 1; qh bits 16..31 set; qs = 0x5A: low 10 -> -6, high (5 | 16) -> 5
  x.u16(kHalfOne);
  x.b.insert(x.b.end(), {0x00, 0x00, 0xff, 0xff});
  x.fill(16, 0x5a);
  const auto y = decode(GgmlType::Q5_0, x);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], -6.0f);
    EXPECT_EQ(y[j + 16], 5.0f);
  }
}

TEST(KnownBlock, Q5_1) {
  Bytes x;  // d = 0.5, m = 2; only element 0 has bit 4; qs = 0x21
  x.u16(kHalfHalf);
  x.u16(kHalfTwo);
  x.b.insert(x.b.end(), {0x01, 0x00, 0x00, 0x00});
  x.fill(16, 0x21);
  const auto y = decode(GgmlType::Q5_1, x);
  EXPECT_EQ(y[0], 17 * 0.5f + 2.0f);
  for (int j = 1; j < 16; ++j) EXPECT_EQ(y[j], 2.5f);
  for (int j = 16; j < 32; ++j) EXPECT_EQ(y[j], 3.0f);
}

TEST(KnownBlock, Q8_0) {
  Bytes x;  // d = 0.25; qs[i] = i - 16
  x.u16(kHalfQuarter);
  x.each(32, [](size_t i) { return static_cast<int8_t>(i - 16); });
  const auto y = decode(GgmlType::Q8_0, x);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], (i - 16) * 0.25f);
}

TEST(KnownBlock, Q2_K) {
  Bytes x;  // scales[b] = b | 2 << 4; qs = 0xE4 (2-bit fields 0,1,2,3); d = 1, dmin = 0.5
  x.each(16, [](size_t b) { return b | (2 << 4); });
  x.fill(64, 0xe4);
  x.u16(kHalfOne);
  x.u16(kHalfHalf);
  const auto y = decode(GgmlType::Q2_K, x);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(y[i], (i / 16) * ((i % 128) / 32) - 1.0f) << i;
}

TEST(KnownBlock, Q3_K) {
  Bytes x;  // hmask = 0x0F: first half has bit 2 (no -4); qs = 0xE4; all scales 34 -> 2
  x.fill(32, 0x0f);
  x.fill(64, 0xe4);
  x.fill(8, 0x22);  // low nibbles of the 16 scales
  x.fill(4, 0xaa);  // their top 2 bits (0b10 each)
  x.u16(kHalfHalf);
  const auto y = decode(GgmlType::Q3_K, x);
  for (int i = 0; i < 256; ++i) {
    const int q = (i % 128) / 32 - (i < 128 ? 0 : 4);
    EXPECT_EQ(y[i], 0.5f * 2 * q) << i;
  }
}

// Sub-block b has scale b + 1 and min 2, except b = 7: scale 40, min 33 (6-bit values
// that use the top bits stored in bytes 3 and 7).
void q4k_scales(Bytes& x) {
  x.b.insert(x.b.end(), {1, 2, 3, 4 | (2 << 6)});   // scales 0..3, top bits of scale 7
  x.b.insert(x.b.end(), {2, 2, 2, 2 | (2 << 6)});   // mins 0..3, top bits of min 7
  x.b.insert(x.b.end(), {0x25, 0x26, 0x27, 0x18});  // low nibbles of scale/min 4..7
}
float q4k_scale(int b) {
  return b == 7 ? 40.0f : b + 1.0f;
}
float q4k_min(int b) {
  return b == 7 ? 33.0f : 2.0f;
}

TEST(KnownBlock, Q4_K) {
  Bytes x;  // d = dmin = 1; qs = 0x31: even sub-blocks read 1, odd ones 3
  x.u16(kHalfOne);
  x.u16(kHalfOne);
  q4k_scales(x);
  x.fill(128, 0x31);
  const auto y = decode(GgmlType::Q4_K, x);
  for (int i = 0; i < 256; ++i) {
    const int b = i / 32;
    EXPECT_EQ(y[i], q4k_scale(b) * (b % 2 ? 3 : 1) - q4k_min(b)) << i;
  }
}

TEST(KnownBlock, Q5_K) {
  Bytes x;  // as Q4_K, plus qh = 0x01: sub-block 0 gets bit 4 (+16)
  x.u16(kHalfOne);
  x.u16(kHalfOne);
  q4k_scales(x);
  x.fill(32, 0x01);
  x.fill(128, 0x31);
  const auto y = decode(GgmlType::Q5_K, x);
  for (int i = 0; i < 256; ++i) {
    const int b = i / 32;
    const int q = (b % 2 ? 3 : 1) + (b == 0 ? 16 : 0);
    EXPECT_EQ(y[i], q4k_scale(b) * q - q4k_min(b)) << i;
  }
}

TEST(KnownBlock, Q6_K) {
  Bytes x;  // ql = 0x21; qh = 0xE4 (group g of 32 gets high bits g); scales[b] = b - 8; d = 1
  x.fill(128, 0x21);
  x.fill(64, 0xe4);
  x.each(16, [](size_t b) { return static_cast<int8_t>(b - 8); });
  x.u16(kHalfOne);
  const auto y = decode(GgmlType::Q6_K, x);
  for (int i = 0; i < 256; ++i) {
    const int g = (i % 128) / 32;
    const int low = g < 2 ? 1 : 2;
    EXPECT_EQ(y[i], (i / 16 - 8.0f) * (low + 16 * g - 32)) << i;
  }
}

TEST(KnownBlock, FloatFormats) {
  Bytes f16;  // 1.0, -2.0, 0.5
  f16.u16(kHalfOne), f16.u16(0xc000), f16.u16(kHalfHalf);
  EXPECT_EQ(dequantize(GgmlType::F16, f16.b, 3), (std::vector<float>{1.0f, -2.0f, 0.5f}));
  Bytes bf16;  // 1.0, -2.0, 0.15625 (0x3e20)
  bf16.u16(0x3f80), bf16.u16(0xc000), bf16.u16(0x3e20);
  EXPECT_EQ(dequantize(GgmlType::BF16, bf16.b, 3), (std::vector<float>{1.0f, -2.0f, 0.15625f}));
  const float values[2] = {3.5f, -0.25f};
  std::vector<uint8_t> f32(sizeof values);
  std::memcpy(f32.data(), values, sizeof values);
  EXPECT_EQ(dequantize(GgmlType::F32, f32, 2), (std::vector<float>{3.5f, -0.25f}));
}

}  // namespace
}  // namespace concord
