// The tensor-core decode operands (backends/cuda/tensor_fragments.h), checked on the host:
// every lane's operands of a tile of 16 quantised rows are placed where the PTX ISA puts
// mma.m16n8k16's fragments (A: lane (g, t) holds rows g and g + 8 at k-slots 2t, 2t + 1
// and 2t + 8, 2t + 9; B: column g at the same slots; D: rows g and g + 8, column 2t), the
// mmas are multiplied out in double, and each lane's result after the kernel's epilogue
// (legacy blocks: d (D - K); Q4_K sub-blocks: s D - u S) must equal the row's dot product
// with the fp16 x computed from the reference dequantisation. What is left to the device is
// the mma instruction itself and the kernel around these pieces.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cuda/tensor_fragments.h"
#include "quant/quant.h"
#include "quant/types.h"
#include "util/rng.h"

namespace concord::cuda::tensor {
namespace {

constexpr int kRows = 16;

double half_value(uint32_t pair, int which) {
  return f16_to_f32(static_cast<uint16_t>(pair >> (16 * which)));
}

// D[r][c] of the mmas [first, end) whose operands the 32 lanes hold (BlockOperands' a[m],
// b[m]; both by default), each A and B slot checked to be supplied by exactly one lane.
struct Product {
  double d[kRows][8] = {};
};
Product multiply(const BlockOperands (&lanes)[32], int first = 0, int end = 2) {
  Product p;
  for (int m = first; m < end; ++m) {
    double a[kRows][16] = {}, b[16][8] = {};
    int a_fills[kRows][16] = {}, b_fills[16][8] = {};
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane / 4, t = lane % 4;
      const BlockOperands& o = lanes[lane];
      const int rows[4] = {g, g + 8, g, g + 8}, slots[4] = {2 * t, 2 * t, 2 * t + 8, 2 * t + 8};
      for (int i = 0; i < 2; ++i) {
        for (int f = 0; f < 4; ++f) {
          a[rows[f]][slots[f] + i] = half_value(o.a[m][f], i);
          ++a_fills[rows[f]][slots[f] + i];
        }
        for (int f = 0; f < 2; ++f) {
          b[2 * t + 8 * f + i][g] = half_value(o.b[m][f], i);
          ++b_fills[2 * t + 8 * f + i][g];
        }
      }
    }
    for (int r = 0; r < kRows; ++r)
      for (int k = 0; k < 16; ++k) EXPECT_EQ(a_fills[r][k], 1) << "A slot of mma " << m;
    for (int k = 0; k < 16; ++k)
      for (int c = 0; c < 8; ++c) EXPECT_EQ(b_fills[k][c], 1) << "B slot of mma " << m;
    for (int r = 0; r < kRows; ++r)
      for (int c = 0; c < 8; ++c)
        for (int k = 0; k < 16; ++k) p.d[r][c] += a[r][k] * b[k][c];
  }
  return p;
}

// 16 rows of n elements quantised to `type` (back to back, with a word of slack: operands
// read the word after a run), their dequantised values, and `tokens` rows of x as fp16.
struct Tile {
  std::vector<uint32_t> words;
  size_t row_bytes = 0;
  int n = 0;
  std::vector<std::vector<float>> dequantised;
  std::vector<uint16_t> x;  // [token][n]
  const uint8_t* row(int r) const {
    return reinterpret_cast<const uint8_t*>(words.data()) + r * row_bytes;
  }
  // Row r's dot product with token `token`'s x from the reference dequantisation;
  // `magnitude` gets sum |w x|.
  double want(int r, int token, double& magnitude) const {
    double sum = 0.0;
    magnitude = 0.0;
    for (int j = 0; j < n; ++j) {
      const double term = static_cast<double>(dequantised[r][j]) * f16_to_f32(x[token * n + j]);
      sum += term;
      magnitude += std::fabs(term);
    }
    return sum;
  }
};
Tile make_tile(GgmlType type, int n, int tokens, uint64_t seed, float x_scale) {
  Rng rng(seed);
  Tile tile;
  tile.row_bytes = row_bytes(type, n);
  tile.n = n;
  tile.words.assign(kRows * tile.row_bytes / 4 + 1, 0);
  tile.dequantised.assign(kRows, std::vector<float>(n));
  for (int r = 0; r < kRows; ++r) {
    std::vector<float> row(n);
    for (float& v : row) v = rng.normal() * (0.01f + 0.01f * r);
    auto* dst = reinterpret_cast<uint8_t*>(tile.words.data()) + r * tile.row_bytes;
    quantize_row(type, row.data(), dst, n);
    dequantize_row(type, dst, tile.dequantised[r].data(), n);
  }
  for (int j = 0; j < n * tokens; ++j) tile.x.push_back(f32_to_f16(rng.normal() * x_scale));
  return tile;
}

// Every token's x of 32-element step `step` as staged: runs[token][4t, 4t + 4) is lane t's
// run, constants[token] the step's constant.
struct StagedStep {
  uint32_t runs[8][16];
  float constants[8];
};
template <typename Block>
StagedStep staged_step(const Tile& tile, int tokens, int step) {
  StagedStep staged;
  for (int token = 0; token < tokens; ++token) {
    uint16_t h[32];
    std::memcpy(h, tile.x.data() + token * tile.n + 32 * step, sizeof h);
    staged.constants[token] = stage_block<Block>(step, h, staged.runs[token]);
  }
  return staged;
}
// Lane (g, t)'s B operand: its column's token's run (tensor::column_token).
void lane_run(const StagedStep& staged, int tokens, int lane, uint32_t (&run)[4]) {
  const int token = column_token(lane / 4, tokens), t = lane % 4;
  for (int i = 0; i < 4; ++i) run[i] = staged.runs[token][4 * t + i];
}

// Per (token, row): the sums the lanes produced, and how many lanes produced each per step.
struct Results {
  double sum[8][kRows] = {};
  int produced[8][kRows] = {};
};
// Lane (g, t)'s results of one step as the kernel keeps them: column 2t + c of D for
// token result_token(t, c), each taken from `value(row, column, token)`; with one token, only
// column 2t of lanes t = 0 (every column holds the same x).
template <typename Value>
void keep(Results& results, int tokens, int lane, Value value) {
  const int g = lane / 4, t = lane % 4;
  for (int c = 0; c < (tokens > 1 ? 2 : 1); ++c) {
    const int token = result_token(t, c);
    if (token >= tokens) continue;
    for (const int r : {g, g + 8}) {
      results.sum[token][r] += value(r, 2 * t + c, token);
      ++results.produced[token][r];
    }
  }
}

void expect_rows(const Tile& tile, int tokens, int steps, const Results& results,
                 std::string_view what) {
  for (int token = 0; token < tokens; ++token) {
    for (int r = 0; r < kRows; ++r) {
      EXPECT_EQ(results.produced[token][r], steps) << what << ": token " << token << " row " << r;
      double magnitude;
      const double want = tile.want(r, token, magnitude);
      // The staged constants are floats: their rounding (~2^-24 of 1152 sum |x|) is all that
      // separates the two.
      EXPECT_NEAR(results.sum[token][r], want, 1e-5 * magnitude + 1e-30)
          << what << ": token " << token << " of " << tokens << ", row " << r;
    }
  }
}

// Legacy block `step` of the tile: each lane's operands, operands(lane, run) with the lane's
// staged run of x, multiplied out; every lane's d (D - K) is summed into `results`.
template <typename Block, typename LaneOperands>
void add_block(Results& results, const Tile& tile, int tokens, int step, LaneOperands operands) {
  const StagedStep staged = staged_step<Block>(tile, tokens, step);
  BlockOperands lanes[32];
  for (int lane = 0; lane < 32; ++lane) {
    uint32_t run[4];
    lane_run(staged, tokens, lane, run);
    lanes[lane] = operands(lane, run);
  }
  const Product p = multiply(lanes);
  for (int lane = 0; lane < 32; ++lane) {
    keep(results, tokens, lane, [&](int r, int column, int token) {
      const float d = r < 8 ? lanes[lane].d : lanes[lane].d8;
      return d * (p.d[r][column] - staged.constants[token]);
    });
  }
}

// 8 Q8_0 blocks a row (both 4-byte alignments): each lane's d (D - K) summed over the blocks
// is its rows' dot products.
void check_q8_0(int tokens, uint64_t seed, float x_scale) {
  constexpr int kBlocks = 8;
  const Tile tile = make_tile(GgmlType::Q8_0, 32 * kBlocks, tokens, seed, x_scale);
  Results results;
  for (int b = 0; b < kBlocks; ++b) {
    add_block<BlockQ8_0>(results, tile, tokens, b, [&](int lane, const uint32_t(&run)[4]) {
      return block_operands<BlockQ8_0>(tile.row(lane / 4), tile.row(lane / 4 + 8), b, lane % 4,
                                       run);
    });
  }
  expect_rows(tile, tokens, kBlocks, results, "Q8_0");
}

// 8 Q4_0 blocks a row, a pair at a time as the kernel takes them (pair_operands), each block
// adding d (D - K) with x staged in its parity's order.
void check_q4_0(int tokens, uint64_t seed, float x_scale) {
  using Q40 = Operands<BlockQ4_0>;
  constexpr int kBlocks = 8;
  const Tile tile = make_tile(GgmlType::Q4_0, 32 * kBlocks, tokens, seed, x_scale);
  Results results;
  for (int pair = 0; pair < kBlocks / 2; ++pair) {
    uint32_t top[32][2][4], bottom[32][2][4];
    float d[32][2], d8[32][2];
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane / 4, t = lane % 4;
      Q40::pair_operands(tile.row(g), pair, t, top[lane][0], top[lane][1], d[lane][0], d[lane][1]);
      Q40::pair_operands(tile.row(g + 8), pair, t, bottom[lane][0], bottom[lane][1], d8[lane][0],
                         d8[lane][1]);
    }
    for (int b = 0; b < 2; ++b) {
      add_block<BlockQ4_0>(results, tile, tokens, 2 * pair + b,
                           [&](int lane, const uint32_t(&run)[4]) {
                             BlockOperands o = fragments(top[lane][b], bottom[lane][b], run);
                             o.d = d[lane][b], o.d8 = d8[lane][b];
                             return o;
                           });
    }
  }
  expect_rows(tile, tokens, kBlocks, results, "Q4_0");
}

// Two Q4_K (or Q5_K) super-blocks a row, a pair of sub-blocks at a time as the kernel takes
// them: each sub-block adds s D - u S, with s and u from the lane Operands::scale_lane names
// (from the head that lane read once for the super-block).
template <typename Block>
void check_q4_k(GgmlType type, int tokens, uint64_t seed, float x_scale) {
  using Q4K = Operands<Block>;  // Q4_K or Q5_K
  constexpr int kSuperBlocks = 2;
  const Tile tile = make_tile(type, 256 * kSuperBlocks, tokens, seed, x_scale);
  Results results;
  for (int q = 0; q < kSuperBlocks; ++q) {
    const size_t at = q * sizeof(Block);
    typename Q4K::Head heads[32];  // each lane's scale row's, loaded once per super-block
    for (int lane = 0; lane < 32; ++lane)
      heads[lane] = Q4K::head(tile.row(Q4K::scale_row(lane)) + at);
    for (int j = 0; j < 4; ++j) {
      float s[32], u[32];
      for (int lane = 0; lane < 32; ++lane)
        Q4K::scale(heads[lane], 2 * j + Q4K::scale_half(lane), s[lane], u[lane]);
      for (int h = 0; h < 2; ++h) {
        const StagedStep staged = staged_step<Block>(tile, tokens, 8 * q + 2 * j + h);
        BlockOperands lanes[32];
        for (int lane = 0; lane < 32; ++lane) {
          const int g = lane / 4, t = lane % 4;
          uint32_t low[4], high[4], low8[4], high8[4], run[4];
          Q4K::operands(tile.row(g) + at, j, t, low, high);
          Q4K::operands(tile.row(g + 8) + at, j, t, low8, high8);
          lane_run(staged, tokens, lane, run);
          lanes[lane] = h == 0 ? fragments(low, low8, run) : fragments(high, high8, run);
        }
        const Product p = multiply(lanes);
        for (int lane = 0; lane < 32; ++lane) {
          keep(results, tokens, lane, [&](int r, int column, int token) {
            const int from = Q4K::scale_lane(r, h);
            return s[from] * p.d[r][column] - u[from] * staged.constants[token];
          });
        }
      }
    }
  }
  expect_rows(tile, tokens, 8 * kSuperBlocks, results, type_name(type));
}

// Two Q6_K super-blocks a row, a step at a time: each of a step's mmas is a half of its own
// scale, adding d scale D (codes are signed: no K). Row r is staged `lead` = 2 (3r mod 8) bytes
// into a word-aligned slot, as the streaming kernel stages rows that start off a 16-byte
// boundary, so the super-blocks start at every even byte of a word.
void check_q6_k(int tokens, uint64_t seed, float x_scale) {
  using Q6K = Operands<BlockQ6_K>;
  constexpr int kSuperBlocks = 2;
  const Tile tile = make_tile(GgmlType::Q6_K, 256 * kSuperBlocks, tokens, seed, x_scale);
  const auto lead = [](int r) { return static_cast<uint32_t>(2 * (3 * r % 8)); };
  const size_t slot_words = tile.row_bytes / 4 + 8;  // the row, its lead and a word of slack
  std::vector<uint32_t> slots(kRows * slot_words, 0);
  const auto slot = [&](int r) { return reinterpret_cast<uint8_t*>(&slots[r * slot_words]); };
  for (int r = 0; r < kRows; ++r) std::memcpy(slot(r) + lead(r), tile.row(r), tile.row_bytes);
  Results results;
  for (int q = 0; q < kSuperBlocks; ++q) {
    const uint32_t at = q * static_cast<uint32_t>(sizeof(BlockQ6_K));
    for (int s = 0; s < 8; ++s) {
      const StagedStep staged = staged_step<BlockQ6_K>(tile, tokens, 8 * q + s);
      BlockOperands lanes[32];
      float scale[32][2], scale8[32][2];
      for (int lane = 0; lane < 32; ++lane) {
        const int g = lane / 4, t = lane % 4;
        uint32_t top[4], bottom[4], run[4];
        Q6K::operands(slot(g), lead(g) + at, s, t, top, scale[lane]);
        Q6K::operands(slot(g + 8), lead(g + 8) + at, s, t, bottom, scale8[lane]);
        lane_run(staged, tokens, lane, run);
        lanes[lane] = fragments(top, bottom, run);
      }
      for (int m = 0; m < 2; ++m) {
        const Product p = multiply(lanes, m, m + 1);
        for (int lane = 0; lane < 32; ++lane) {
          keep(results, tokens, lane, [&](int r, int column, int) {
            return (r < 8 ? scale[lane][m] : scale8[lane][m]) * p.d[r][column];
          });
        }
      }
    }
  }
  // Each step's two mmas each add one term per row.
  expect_rows(tile, tokens, 2 * 8 * kSuperBlocks, results, "Q6_K");
}

// Single tokens, and batched steps of 2, 5 and 8 tokens (a token per column of B).
constexpr int kTokenCounts[] = {1, 2, 5, 8};

TEST(TensorFragments, Q4_0TileMatchesReference) {
  for (const int tokens : kTokenCounts)
    for (const float scale : {1.0f, 1e-3f, 300.0f}) check_q4_0(tokens, 11, scale);
}

TEST(TensorFragments, Q8_0TileMatchesReference) {
  for (const int tokens : kTokenCounts)
    for (const float scale : {1.0f, 1e-3f, 300.0f}) check_q8_0(tokens, 12, scale);
}

TEST(TensorFragments, Q4_KTileMatchesReference) {
  for (const int tokens : kTokenCounts)
    for (const float scale : {1.0f, 1e-3f, 300.0f})
      check_q4_k<BlockQ4_K>(GgmlType::Q4_K, tokens, 13, scale);
}

TEST(TensorFragments, Q5_KTileMatchesReference) {
  for (const int tokens : kTokenCounts)
    for (const float scale : {1.0f, 1e-3f, 300.0f})
      check_q4_k<BlockQ5_K>(GgmlType::Q5_K, tokens, 15, scale);
}

TEST(TensorFragments, Q6_KTileMatchesReference) {
  for (const int tokens : kTokenCounts)
    for (const float scale : {1.0f, 1e-3f, 300.0f}) check_q6_k(tokens, 14, scale);
}

TEST(TensorFragments, SmallFloatIsExactBelowTwoTo23) {
  for (uint32_t v = 0; v < 64; ++v) EXPECT_EQ(small_float(v), static_cast<float>(v));
  for (const uint32_t v : {1000u, 65535u, (1u << 23) - 1})
    EXPECT_EQ(small_float(v), static_cast<float>(v));
}

TEST(TensorFragments, Q4_KScaleLanesCoverEveryRowAndHalf) {
  using Q4K = Operands<BlockQ4_K>;
  for (int lane = 0; lane < 32; ++lane)
    EXPECT_EQ(Q4K::scale_lane(Q4K::scale_row(lane), Q4K::scale_half(lane)), lane);
}

// Lane t's staged element of block `block` at position p, for formats 0, 1, 2, 3: Q4_0,
// Q8_0, Q4_K, Q6_K.
constexpr int kFormats = 4;
int staged_element(int format, int block, int t, int p) {
  return format == 0   ? Operands<BlockQ4_0>::element(block, t, p)
         : format == 1 ? Operands<BlockQ8_0>::element(block, t, p)
         : format == 2 ? Operands<BlockQ4_K>::element(block, t, p)
                       : Operands<BlockQ6_K>::element(block, t, p);
}

TEST(TensorFragments, StagingOrderIsAPermutation) {
  for (int format = 0; format < kFormats; ++format) {
    for (int block = 0; block < 2; ++block) {
      int seen[32] = {};
      for (int t = 0; t < 4; ++t) {
        for (int p = 0; p < 8; ++p) {
          const int e = staged_element(format, block, t, p);
          ASSERT_GE(e, 0);
          ASSERT_LT(e, 32);
          ++seen[e];
        }
      }
      for (int e = 0; e < 32; ++e)
        EXPECT_EQ(seen[e], 1) << "element " << e << " format " << format << " block " << block;
    }
  }
}

// The device stages a lane's 8 elements as pairs of x (stage_tensor_activations'
// load_two_pairs): positions 4h, 4h + 2 and 4h + 1, 4h + 3 are two pairs at even elements,
// read in one 16-byte load where they make an aligned run of 4 — every lane but those of
// Q4_0's even blocks.
TEST(TensorFragments, LaneElementsArePairsInX) {
  for (int format = 0; format < kFormats; ++format) {
    for (int block = 0; block < 2; ++block) {
      for (int t = 0; t < 4; ++t) {
        for (int h = 0; h < 2; ++h) {
          const int lo = staged_element(format, block, t, 4 * h),
                    hi = staged_element(format, block, t, 4 * h + 1);
          const std::string where = fmt::format("format {} block {} lane {}", format, block, t);
          EXPECT_EQ(lo % 2, 0) << where;
          EXPECT_EQ(hi % 2, 0) << where;
          EXPECT_EQ(staged_element(format, block, t, 4 * h + 2), lo + 1) << where;
          EXPECT_EQ(staged_element(format, block, t, 4 * h + 3), hi + 1) << where;
          if (format != 0 || block % 2 == 1) {
            EXPECT_EQ(lo % 4, 0) << where;
            EXPECT_EQ(hi, lo + 2) << where;
          }
        }
      }
    }
  }
}

TEST(TensorFragments, BytePermutesPickBytes) {
  EXPECT_EQ(byte_perm(0x33221100u, 0x77665544u, 0x5240), 0x55224400u);
  // Q4_0's lane 3 of an even block: bytes 2, 3 of word 0 and 0, 1 of word 4.
  EXPECT_EQ(byte_perm(0x33221100u, 0x77665544u, 0x5432), 0x55443322u);
}

}  // namespace
}  // namespace concord::cuda::tensor
