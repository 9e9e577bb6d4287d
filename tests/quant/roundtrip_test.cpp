// dequantise(quantise(x)) stays within each format's round-to-nearest error bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "quant/quant.h"
#include "util/rng.h"

namespace concord {
namespace {

// Bound on |x - x'| for round-to-nearest: `step_fraction` of the block's quantisation step,
// where step = block range / levels. For the k-quants the block is the 256-element
// super-block: its sub-block scales are themselves rounded (4 or 6 bits), which widens
// the bound, and `rel_rmse` is the bound on RMSE / RMS(x) for Gaussian data. Stored f16
// scales and offsets add up to 2^-10 of the block's magnitude on top.
struct Bound {
  GgmlType type;
  int levels;            // quantisation levels across the block's range
  bool symmetric;        // range = 2 * absmax (else max - min(0, min))
  double step_fraction;  // max error in steps
  double rel_rmse;       // Gaussian data
};
constexpr Bound kBounds[] = {
    {GgmlType::Q8_0, 254, true, 0.6, 0.006},  {GgmlType::Q4_0, 16, true, 1.01, 0.12},
    {GgmlType::Q4_1, 15, false, 0.55, 0.09},  {GgmlType::Q5_0, 32, true, 1.01, 0.06},
    {GgmlType::Q5_1, 31, false, 0.55, 0.045}, {GgmlType::Q2_K, 3, false, 1.0, 0.40},
    {GgmlType::Q3_K, 8, true, 1.2, 0.20},     {GgmlType::Q4_K, 15, false, 1.0, 0.12},
    {GgmlType::Q5_K, 31, false, 1.0, 0.06},   {GgmlType::Q6_K, 64, true, 1.2, 0.03},
};

enum class Data { Gaussian, Uniform, Outliers, Positive, Constant, Zero };

std::vector<float> make_data(Data kind, int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) {
    switch (kind) {
      case Data::Gaussian:
        v = rng.normal();
        break;
      case Data::Uniform:
        v = rng.uniform(-3.0f, 3.0f);
        break;
      case Data::Outliers:
        v = rng.normal() * (rng.uniform() < 0.01 ? 50.0f : 1.0f);
        break;
      case Data::Positive:
        v = rng.uniform(0.5f, 2.0f);
        break;
      case Data::Constant:
        v = -1.25f;
        break;
      case Data::Zero:
        v = 0.0f;
        break;
    }
  }
  return x;
}

double block_step(const Bound& b, const float* x, int64_t n) {
  const auto [lo, hi] = std::minmax_element(x, x + n);
  const double absmax = std::max(std::fabs(*lo), std::fabs(*hi));
  const double range = b.symmetric ? 2.0 * absmax : *hi - std::min(0.0f, *lo);
  return range / b.levels;
}

class QuantRoundTrip : public ::testing::TestWithParam<Bound> {};

TEST_P(QuantRoundTrip, ErrorWithinBoundOnEveryDistribution) {
  const Bound b = GetParam();
  const int64_t block = type_info(b.type).block_size;
  const int64_t n = block * 64;
  for (Data kind : {Data::Gaussian, Data::Uniform, Data::Outliers, Data::Positive, Data::Constant,
                    Data::Zero}) {
    const std::vector<float> x = make_data(kind, n, 1234 + static_cast<int>(kind));
    const std::vector<uint8_t> q = quantize(b.type, x);
    ASSERT_EQ(q.size(), row_bytes(b.type, n));
    const std::vector<float> y = dequantize(b.type, q, n);
    double err2 = 0, ref2 = 0;
    for (int64_t start = 0; start < n; start += block) {
      const double step = block_step(b, x.data() + start, block);
      const double absmax = std::fabs(
          *std::max_element(x.begin() + start, x.begin() + start + block,
                            [](float p, float q) { return std::fabs(p) < std::fabs(q); }));
      for (int64_t i = start; i < start + block; ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << type_name(b.type) << " element " << i;
        const double err = std::fabs(static_cast<double>(x[i]) - y[i]);
        ASSERT_LE(err, b.step_fraction * step + 0x1p-10 * absmax + 1e-30)
            << type_name(b.type) << " data kind " << static_cast<int>(kind) << " element " << i
            << ": x=" << x[i] << " y=" << y[i] << " step=" << step;
        err2 += err * err;
        ref2 += static_cast<double>(x[i]) * x[i];
      }
    }
    if (kind == Data::Gaussian) {
      EXPECT_LE(std::sqrt(err2 / ref2), b.rel_rmse) << type_name(b.type);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllBlockFormats, QuantRoundTrip, ::testing::ValuesIn(kBounds),
                         [](const auto& info) { return std::string(type_name(info.param.type)); });

TEST(QuantRoundTrip, FloatFormatsKeepTheirPrecision) {
  const std::vector<float> x = make_data(Data::Gaussian, 4096, 9);
  const std::vector<float> f32 = dequantize(GgmlType::F32, quantize(GgmlType::F32, x), 4096);
  const std::vector<float> f16 = dequantize(GgmlType::F16, quantize(GgmlType::F16, x), 4096);
  const std::vector<float> bf16 = dequantize(GgmlType::BF16, quantize(GgmlType::BF16, x), 4096);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(f32[i], x[i]);
    // Relative half-ulp: 2^-11 for f16 (normal range), 2^-8 for bf16.
    EXPECT_LE(std::fabs(f16[i] - x[i]), std::ldexp(std::fabs(x[i]), -11) + 3e-8);
    EXPECT_LE(std::fabs(bf16[i] - x[i]), std::ldexp(std::fabs(x[i]), -8));
  }
}

TEST(QuantRoundTrip, QuantisationIsDeterministic) {
  const std::vector<float> x = make_data(Data::Gaussian, 1024, 5);
  for (GgmlType t : supported_types()) {
    EXPECT_EQ(quantize(t, x), quantize(t, x)) << type_name(t);
  }
}

}  // namespace
}  // namespace concord
