// WeightPlan: single types everywhere; the _M mixes' Q6_K matrices by name and layer.
#include "quant/weight_plan.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "util/error.h"

namespace concord {
namespace {

TEST(WeightPlan, ASingleTypeHoldsForEveryMatrix) {
  const WeightPlan plan = WeightPlan::parse("q8_0");
  EXPECT_FALSE(plan.mixed());
  EXPECT_EQ(plan.name(), "Q8_0");
  for (const char* name : {"output.weight", "token_embd.weight", "blk.0.attn_v.weight"})
    EXPECT_EQ(plan.matrix_type(name, 16, false), GgmlType::Q8_0) << name;
}

// Layers of a 32-block model whose value and down projections a mix keeps in Q6_K: the
// first 4, the last 4, and 4 + 3k + 2 between (llama.cpp's Q4_K_M files of Llama-3-8B).
TEST(WeightPlan, MediumMixKeepsSensitiveLayersInQ6K) {
  const WeightPlan plan = WeightPlan::parse("Q4_K_M");
  EXPECT_TRUE(plan.mixed());
  EXPECT_EQ(plan.name(), "Q4_K_M");
  std::set<int> q6;
  for (int layer = 0; layer < 32; ++layer) {
    const std::string v = "blk." + std::to_string(layer) + ".attn_v.weight";
    const std::string down = "blk." + std::to_string(layer) + ".ffn_down.weight";
    const std::string q = "blk." + std::to_string(layer) + ".attn_q.weight";
    EXPECT_EQ(plan.matrix_type(v, 32, false), plan.matrix_type(down, 32, false)) << layer;
    EXPECT_EQ(plan.matrix_type(q, 32, false), GgmlType::Q4_K) << layer;
    if (plan.matrix_type(v, 32, false) == GgmlType::Q6_K) q6.insert(layer);
  }
  EXPECT_EQ(q6, (std::set<int>{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}));
  EXPECT_EQ(plan.matrix_type("output.weight", 32, false), GgmlType::Q6_K);
  EXPECT_EQ(plan.matrix_type("token_embd.weight", 32, false), GgmlType::Q4_K);
  EXPECT_EQ(plan.matrix_type("token_embd.weight", 32, true), GgmlType::Q6_K);  // tied: output
  EXPECT_EQ(WeightPlan::parse("q5_k_m").matrix_type("blk.5.attn_k.weight", 32, false),
            GgmlType::Q5_K);
}

TEST(WeightPlan, FileTypesFollowLlamaCppNumbering) {
  EXPECT_EQ(WeightPlan::parse("F32").file_type(), 0u);
  EXPECT_EQ(WeightPlan::parse("Q8_0").file_type(), 7u);
  EXPECT_EQ(WeightPlan::parse("Q4_K_M").file_type(), 15u);
  EXPECT_EQ(WeightPlan::parse("Q5_K_M").file_type(), 17u);
  EXPECT_EQ(WeightPlan::parse("Q6_K").file_type(), 18u);
}

TEST(WeightPlan, UnknownNamesListTheChoices) {
  try {
    WeightPlan::parse("q4_0_m");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("unknown weight type 'q4_0_m'"), std::string::npos) << what;
    EXPECT_NE(what.find("Q4_K_M, Q5_K_M"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace concord
