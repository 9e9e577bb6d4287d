// Every op of every registered backend against the scalar reference (the op harness).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "backend/registry.h"
#include "parity/op_harness.h"

namespace concord {
namespace {

class OpParity : public ::testing::TestWithParam<std::string> {};

TEST_P(OpParity, EveryOpTypeAndShapeMatchesTheReference) {
  if (const auto why = find_backend(GetParam())->unavailable_reason()) {
    GTEST_SKIP() << GetParam() << " backend unavailable: " << *why;
  }
  const std::unique_ptr<Backend> backend = create_backend(GetParam(), {2});
  const auto checks = parity::run_op_harness(*backend, {});
  ASSERT_GT(checks.size(), 50u);
  std::set<std::string> ops;
  for (const parity::OpCheck& c : checks) {
    ops.insert(c.op);
    EXPECT_TRUE(c.passed()) << GetParam() << " " << c.op << " " << c.type << " " << c.shape
                            << ": nmse " << c.nmse << " (threshold " << c.threshold << ")"
                            << (c.finite ? "" : ", non-finite output")
                            << (c.guards_intact ? "" : ", wrote outside its output");
  }
  EXPECT_EQ(ops.size(), parity::harness_ops().size());
}

TEST(OpHarness, FilterSelectsOneOp) {
  const std::unique_ptr<Backend> backend = create_backend("cpu", {2});
  const auto checks = parity::run_op_harness(*backend, {"add", false, 1});
  ASSERT_FALSE(checks.empty());
  for (const auto& c : checks) EXPECT_EQ(c.op, "add");
}

TEST(OpHarness, NmseDetectsDifferences) {
  EXPECT_EQ(parity::nmse({1, 2, 3}, {1, 2, 3}), 0.0);
  EXPECT_NEAR(parity::nmse({1, 2, 4}, {1, 2, 3}), 1.0 / 14.0, 1e-12);
  EXPECT_TRUE(std::isinf(parity::nmse({1, 2}, {1, 2, 3})));
}

INSTANTIATE_TEST_SUITE_P(Backends, OpParity, ::testing::Values("cpu", "cpu-ref", "cuda"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace concord
