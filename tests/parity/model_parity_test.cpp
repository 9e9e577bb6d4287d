// Model-level parity: the optimised CPU backend against the reference on stories260K,
// and a deliberately perturbed backend that the checks must catch.
#include "parity/model_parity.h"

#include <gtest/gtest.h>

#include "backends/cpu/cpu_backend.h"
#include "common/paths.h"

namespace concord {
namespace {

// Test-only: the CPU backend with every matmul output nudged by a fixed pattern (about
// 1% of a typical activation) - the kind of bug a wrong kernel tail would cause.
class PerturbedBackend : public CpuBackend {
 public:
  PerturbedBackend() : CpuBackend(1) {}
  std::string name() const override { return "cpu-perturbed"; }
  void matmul(const Weight& w, const float* x, float* out, int n) override {
    CpuBackend::matmul(w, x, out, n);
    for (int64_t i = 0; i < w.n_out * n; ++i) out[i] += (i % 7 == 0) ? 0.05f : 0.0f;
  }
};

TEST(ModelParity, OptimisedCpuMatchesReferenceOnStories) {
  CONCORD_REQUIRE_SHARED("models/stories260K.gguf");
  const gguf::File file = gguf::File::open(test::shared_file("models/stories260K.gguf"));
  CpuReferenceBackend ref;
  CpuBackend cpu(2);
  const auto report =
      parity::compare_backends(file, ref, cpu, parity::default_parity_prompts(), 64);
  EXPECT_TRUE(report.passed);
  for (const auto& r : report.prompts) {
    EXPECT_GE(r.min_cosine, 0.9999) << r.prompt;
    EXPECT_EQ(r.first_divergence, -1) << r.prompt;
    EXPECT_EQ(r.tokens_a.size(), 64u);
  }
  const auto json = parity::to_json(report);
  EXPECT_TRUE(json["passed"].get<bool>());
  EXPECT_EQ(json["prompts"].size(), parity::default_parity_prompts().size());
}

TEST(ModelParity, PerturbedBackendIsCaught) {
  CONCORD_REQUIRE_SHARED("models/stories260K.gguf");
  const gguf::File file = gguf::File::open(test::shared_file("models/stories260K.gguf"));
  CpuReferenceBackend ref;
  PerturbedBackend bad;
  const auto report =
      parity::compare_backends(file, ref, bad, parity::default_parity_prompts(), 64);
  EXPECT_FALSE(report.passed);
  int caught = 0;
  for (const auto& r : report.prompts) caught += r.passed ? 0 : 1;
  EXPECT_GT(caught, 0);
  const auto& r = report.prompts.front();
  EXPECT_LT(r.min_cosine, 0.9999) << "forward-level check missed the perturbation";
}

}  // namespace
}  // namespace concord
