#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "util/error.h"
#include "util/rng.h"

namespace concord {
namespace {

std::vector<float> random_logits(int n, uint64_t seed, float scale = 3.0f) {
  Rng rng(seed);
  std::vector<float> z(static_cast<size_t>(n));
  for (float& v : z) v = scale * rng.normal();
  return z;
}

// Indices sorted by logit, best first.
std::vector<TokenId> ranking(const std::vector<float>& z) {
  std::vector<TokenId> ids(z.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(), [&](TokenId a, TokenId b) { return z[a] > z[b]; });
  return ids;
}

std::vector<double> softmax(const std::vector<float>& z) {
  std::vector<double> p(z.size());
  const float m = *std::max_element(z.begin(), z.end());
  double total = 0;
  for (size_t i = 0; i < z.size(); ++i) total += (p[i] = std::exp(z[i] - m));
  for (double& v : p) v /= total;
  return p;
}

TEST(Sampler, TemperatureZeroIsGreedyWithLowestIdOnTies) {
  std::vector<float> z = random_logits(100, 1);
  Sampler s(SamplingParams::greedy(), 100);
  EXPECT_EQ(s.sample(z, {}).token, ranking(z)[0]);
  z.assign(100, 1.0f);
  z[40] = z[7] = 5.0f;
  EXPECT_EQ(s.sample(z, {}).token, 7);
}

TEST(Sampler, TopKNeverSamplesOutsideTheK) {
  const std::vector<float> z = random_logits(200, 2, 1.0f);
  const auto order = ranking(z);
  const std::set<TokenId> allowed(order.begin(), order.begin() + 5);
  SamplingParams p;
  p.temperature = 1.5f;
  p.top_k = 5;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 3;
  Sampler s(p, 200);
  std::set<TokenId> seen;
  for (int i = 0; i < 2000; ++i) {
    const TokenId t = s.sample(z, {}).token;
    ASSERT_TRUE(allowed.count(t)) << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 5u);  // with temperature 1.5 all five turn up
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
  const std::vector<float> z = random_logits(50, 4);
  const auto order = ranking(z);
  const auto probs = softmax(z);
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.7f;
  p.min_p = 0.0f;
  p.seed = 5;
  size_t keep = 0;
  for (double mass = 0; mass < 0.7; mass += probs[order[keep++]]) {
  }
  const std::set<TokenId> allowed(order.begin(), order.begin() + static_cast<long>(keep));
  Sampler s(p, 50);
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(allowed.count(s.sample(z, {}).token));
}

TEST(Sampler, MinPExcludesUnlikelyTokensAndRenormalises) {
  std::vector<float> z = {0.0f, std::log(0.5f), std::log(0.04f),
                          std::log(0.3f)};  // p ∝ 1, .5, .04, .3
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.1f;  // threshold 0.1 * p_max: excludes token 2
  p.seed = 9;
  Sampler s(p, 4);
  std::map<TokenId, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++counts[s.sample(z, {}).token];
  EXPECT_EQ(counts.count(2), 0u);
  // Survivors renormalised: 1/1.8, 0.5/1.8, 0.3/1.8.
  EXPECT_NEAR(counts[0] / double(n), 1.0 / 1.8, 0.015);
  EXPECT_NEAR(counts[1] / double(n), 0.5 / 1.8, 0.015);
  EXPECT_NEAR(counts[3] / double(n), 0.3 / 1.8, 0.015);
}

TEST(Sampler, SameSeedSameTokensOtherSeedOtherTokens) {
  const std::vector<float> z = random_logits(300, 6, 1.0f);
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  auto draw = [&](uint64_t seed) {
    p.seed = seed;
    Sampler s(p, 300);
    std::vector<TokenId> out;
    for (int i = 0; i < 50; ++i) out.push_back(s.sample(z, {}).token);
    return out;
  };
  EXPECT_EQ(draw(42), draw(42));
  EXPECT_NE(draw(42), draw(43));
}

TEST(Sampler, PenaltiesLogitBiasAndLogprobs) {
  std::vector<float> z = {2.0f, 1.9f, -1.0f, 0.0f};
  SamplingParams p = SamplingParams::greedy();
  p.repeat_penalty = 2.0f;  // 2.0 -> 1.0 for the repeated token 0
  Sampler s(p, 4);
  const std::vector<TokenId> history = {0, 0};
  EXPECT_EQ(s.sample(z, history).token, 1);
  SamplingParams f = SamplingParams::greedy();
  f.frequency_penalty = 0.2f;  // 2.0 - 2 * 0.2 = 1.6 < 1.9
  EXPECT_EQ(Sampler(f, 4).sample(z, history).token, 1);
  SamplingParams b = SamplingParams::greedy();
  b.logit_bias = {{0, -INFINITY}, {1, -INFINITY}, {2, 5.0f}};
  b.n_top_logprobs = 2;
  const Sample r = Sampler(b, 4).sample(z, {});
  EXPECT_EQ(r.token, 2);
  ASSERT_EQ(r.top.size(), 2u);
  EXPECT_EQ(r.top[0].token, 2);
  EXPECT_EQ(r.top[1].token, 3);
  // log-softmax over {4.0, 0.0} (tokens 0 and 1 banned)
  EXPECT_NEAR(r.logprob, 4.0 - std::log(std::exp(4.0) + 1.0), 1e-5);
  EXPECT_LE(r.top[1].logprob, r.top[0].logprob);
}

TEST(Sampler, RejectsBadParameters) {
  SamplingParams p;
  p.top_p = 0.0f;
  EXPECT_THROW(Sampler(p, 10), Error);
  p = SamplingParams();
  p.temperature = -1.0f;
  EXPECT_THROW(Sampler(p, 10), Error);
  p = SamplingParams();
  p.logit_bias = {{10, 1.0f}};
  EXPECT_THROW(Sampler(p, 10), Error);
  SamplingParams all_banned = SamplingParams::greedy();
  all_banned.logit_bias = {{0, -INFINITY}, {1, -INFINITY}};
  EXPECT_THROW(Sampler(all_banned, 2).sample(std::vector<float>{1, 2}, {}), Error);
}

}  // namespace
}  // namespace concord
