// Every op of every registered backend against the scalar reference (the op harness).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

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

// Uploads return before their copies land (CUDA stages small ones in pinned memory): the
// host source may change at once, and a buffer reused by the next upload must not corrupt the
// last. Sizes: one float, a step's ints, a vocab of logits (pieces not whole pages), and one
// past the staging limit (copied directly).
TEST_P(OpParity, CopiesRoundTripWhateverTheirSize) {
  if (const auto why = find_backend(GetParam())->unavailable_reason()) {
    GTEST_SKIP() << GetParam() << " backend unavailable: " << *why;
  }
  const std::unique_ptr<Backend> backend = create_backend(GetParam(), {2});
  for (const size_t n : {size_t{1}, size_t{3000}, size_t{128256}, size_t{17} << 18}) {
    std::vector<float> host(n);
    for (size_t i = 0; i < n; ++i) host[i] = static_cast<float>(i % 1000) + 0.5f;
    const auto first = backend->allocate(n * sizeof(float));
    const auto second = backend->allocate(n * sizeof(float));
    backend->upload(first->data(), host.data(), n * sizeof(float));
    std::fill(host.begin(), host.end(), -1.0f);  // the first upload must already hold its copy
    backend->upload(second->data(), host.data(), n * sizeof(float));
    std::vector<float> back(n, 0.0f);
    backend->download(back.data(), first->data(), n * sizeof(float));
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(back[i], static_cast<float>(i % 1000) + 0.5f) << n << " floats, at " << i;
    }
    backend->download(back.data(), second->data(), n * sizeof(float));
    EXPECT_EQ(std::count(back.begin(), back.end(), -1.0f), static_cast<std::ptrdiff_t>(n));

    // A read-back buffer (mapped host memory on CUDA up to 4 MiB) shows what an op wrote:
    // first + second = the pattern less one.
    const auto readback = backend->allocate_readback(n * sizeof(float));
    backend->add(first->as<float>(), second->as<float>(), readback->as<float>(),
                 static_cast<int64_t>(n));
    std::vector<std::byte> staging;
    const auto* seen =
        static_cast<const float*>(backend->read_back(*readback, n * sizeof(float), staging));
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(seen[i], static_cast<float>(i % 1000) - 0.5f) << n << " floats read back, at " << i;
    }
  }
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
