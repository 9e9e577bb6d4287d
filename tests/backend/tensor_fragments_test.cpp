// The tensor-core decode operands (backends/cuda/tensor_fragments.h), checked on the host:
// every lane's operands of a tile of 16 quantised rows are placed where the PTX ISA puts
// mma.m16n8k16's fragments (A: lane (g, t) holds rows g and g + 8 at k-slots 2t, 2t + 1
// and 2t + 8, 2t + 9; B: column g at the same slots; D: row g and g + 8, column 2t), the
// two mmas of each block are multiplied out in double, and each lane's result after the
// kernel's epilogue, d * (D - K), must equal the row's dot product with the fp16 x computed
// from the reference dequantisation. What is left to the device is the mma instruction.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "backends/cuda/tensor_fragments.h"
#include "quant/quant.h"
#include "util/rng.h"

namespace concord::cuda::tensor {
namespace {

constexpr int kRows = 16;
constexpr int kBlocks = 8;  // per row piece: blocks at both 4-byte alignments

double half_value(uint32_t pair, int which) {
  return f16_to_f32(static_cast<uint16_t>(pair >> (16 * which)));
}

template <typename Block>
void check_tile(GgmlType type, uint64_t seed, float x_scale) {
  Rng rng(seed);
  constexpr int n = 32 * kBlocks;
  constexpr size_t piece_bytes = kBlocks * sizeof(Block);
  static_assert(piece_bytes % 4 == 0, "pieces start on words, as in the kernel's stages");
  // 16 row pieces back to back and a word of slack (word_at reads the word after a run).
  std::vector<uint32_t> words((kRows * piece_bytes) / 4 + 1, 0);
  auto* pieces = reinterpret_cast<uint8_t*>(words.data());
  std::vector<std::vector<float>> dequantised(kRows, std::vector<float>(n));
  for (int r = 0; r < kRows; ++r) {
    std::vector<float> row(n);
    for (float& v : row) v = rng.normal() * (0.01f + 0.01f * r);
    quantize_row(type, row.data(), pieces + r * piece_bytes, n);
    dequantize_row(type, pieces + r * piece_bytes, dequantised[r].data(), n);
  }
  uint16_t h[n];
  for (uint16_t& v : h) v = f32_to_f16(rng.normal() * x_scale);

  double got[32][2] = {};  // per lane: rows g and g + 8
  for (int b = 0; b < kBlocks; ++b) {
    uint16_t block_x[32];
    std::memcpy(block_x, h + 32 * b, sizeof block_x);
    uint32_t runs[16];
    const float k = stage_block<Block>(block_x, runs);

    double a[2][kRows][16] = {}, bm[2][16][8] = {};
    int a_fills[2][kRows][16] = {}, b_fills[2][16][8] = {};
    BlockOperands lanes[32];
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane / 4, t = lane % 4;
      const uint32_t run[4] = {runs[4 * t], runs[4 * t + 1], runs[4 * t + 2], runs[4 * t + 3]};
      lanes[lane] = block_operands<Block>(pieces + g * piece_bytes, pieces + (g + 8) * piece_bytes,
                                          b, t, run);
      const BlockOperands& o = lanes[lane];
      for (int m = 0; m < 2; ++m) {
        for (int i = 0; i < 2; ++i) {
          const int rows[4] = {g, g + 8, g, g + 8}, slots[4] = {2 * t, 2 * t, 2 * t + 8, 2 * t + 8};
          for (int f = 0; f < 4; ++f) {
            a[m][rows[f]][slots[f] + i] = half_value(o.a[m][f], i);
            ++a_fills[m][rows[f]][slots[f] + i];
          }
          bm[m][2 * t + i][g] = half_value(o.b[m][0], i);
          bm[m][2 * t + 8 + i][g] = half_value(o.b[m][1], i);
          ++b_fills[m][2 * t + i][g];
          ++b_fills[m][2 * t + 8 + i][g];
        }
      }
    }
    for (int m = 0; m < 2; ++m) {
      for (int r = 0; r < kRows; ++r)
        for (int s = 0; s < 16; ++s) ASSERT_EQ(a_fills[m][r][s], 1) << "A slot of mma " << m;
      for (int s = 0; s < 16; ++s)
        for (int c = 0; c < 8; ++c) ASSERT_EQ(b_fills[m][s][c], 1) << "B slot of mma " << m;
    }
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane / 4, t = lane % 4;
      double top = 0.0, bottom = 0.0;  // D[g][2t], D[g + 8][2t] over both mmas
      for (int m = 0; m < 2; ++m) {
        for (int s = 0; s < 16; ++s) {
          top += a[m][g][s] * bm[m][s][2 * t];
          bottom += a[m][g + 8][s] * bm[m][s][2 * t];
        }
      }
      got[lane][0] += lanes[lane].d * (top - k);
      got[lane][1] += lanes[lane].d8 * (bottom - k);
    }
  }

  for (int lane = 0; lane < 32; ++lane) {
    for (int half = 0; half < 2; ++half) {
      const int r = lane / 4 + 8 * half;
      double want = 0.0, magnitude = 0.0;
      for (int j = 0; j < n; ++j) {
        const double term = static_cast<double>(dequantised[r][j]) * f16_to_f32(h[j]);
        want += term;
        magnitude += std::fabs(term);
      }
      // K is a float: its rounding (~2^-24 of 1152 sum |x|) is all that separates them.
      EXPECT_NEAR(got[lane][half], want, 1e-5 * magnitude + 1e-30)
          << "lane " << lane << " row " << r << " x scale " << x_scale;
    }
  }
}

TEST(TensorFragments, Q4_0TileMatchesReference) {
  for (const float scale : {1.0f, 1e-3f, 300.0f}) check_tile<BlockQ4_0>(GgmlType::Q4_0, 11, scale);
}

TEST(TensorFragments, Q8_0TileMatchesReference) {
  for (const float scale : {1.0f, 1e-3f, 300.0f}) check_tile<BlockQ8_0>(GgmlType::Q8_0, 12, scale);
}

TEST(TensorFragments, StagingOrderIsAPermutation) {
  for (int format = 0; format < 2; ++format) {
    int seen[32] = {};
    for (int t = 0; t < 4; ++t) {
      for (int p = 0; p < 8; ++p) {
        const int e =
            format == 0 ? Operands<BlockQ4_0>::element(t, p) : Operands<BlockQ8_0>::element(t, p);
        ASSERT_GE(e, 0);
        ASSERT_LT(e, 32);
        ++seen[e];
      }
    }
    for (int e = 0; e < 32; ++e) EXPECT_EQ(seen[e], 1) << "element " << e << " format " << format;
  }
}

TEST(TensorFragments, WordsAtEvenOffsets) {
  const uint32_t words[3] = {0x33221100u, 0x77665544u, 0xbbaa9988u};
  EXPECT_EQ(word_at(words, 0), 0x33221100u);
  EXPECT_EQ(word_at(words, 2), 0x55443322u);
  EXPECT_EQ(word_at(words, 4), 0x77665544u);
  EXPECT_EQ(word_at(words, 6), 0x99887766u);
  EXPECT_EQ(byte_perm(0x33221100u, 0x77665544u, 0x5240), 0x55224400u);
}

}  // namespace
}  // namespace concord::cuda::tensor
