#include "backend/selection.h"

#include <gtest/gtest.h>

#include <functional>

#include "util/error.h"

namespace concord {
namespace {

SelectionRequest request(std::optional<std::string> flag = std::nullopt,
                         std::vector<GgmlType> types = {GgmlType::Q4_K}) {
  return {flag, {types, KvType::F16}, {1, 0}};
}

bool cuda_usable() {
  return !find_backend("cuda")->unavailable_reason();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Selection, AutoTakesTheFirstUsableBackendInPriorityOrder) {
  const Selection s = select_backend(request(), SelectionEnv{});
  EXPECT_EQ(s.provenance.requested, "auto");
  EXPECT_EQ(s.provenance.selected, cuda_usable() ? "cuda" : "cpu");
  EXPECT_FALSE(s.provenance.fallback);
  EXPECT_NE(s.provenance.reason.find("auto: first usable in priority cuda,cpu"), std::string::npos);
  EXPECT_EQ(s.backend->name(), s.provenance.selected);
  const std::string line = s.provenance.to_string();
  EXPECT_EQ(line.rfind("requested=auto detected=[", 0), 0u) << line;
}

TEST(Selection, FlagBeatsEnvironmentAndEnvironmentBeatsAuto) {
  SelectionEnv env;
  env.backend = "cpu-ref";
  EXPECT_EQ(select_backend(request(), env).provenance.selected, "cpu-ref");
  EXPECT_EQ(select_backend(request("cpu"), env).provenance.selected, "cpu");
  EXPECT_EQ(select_backend(request("cpu"), env).provenance.reason, "requested");
}

TEST(Selection, UnavailableRequestFallsBackAlongTheChainAndSaysWhy) {
  if (cuda_usable()) GTEST_SKIP() << "a CUDA device is present: nothing to fall back from";
  const Selection s = select_backend(request("cuda"), SelectionEnv{});
  EXPECT_EQ(s.provenance.selected, "cpu");
  EXPECT_TRUE(s.provenance.fallback);
  EXPECT_NE(s.provenance.reason.find("cuda: "), std::string::npos) << s.provenance.reason;
  EXPECT_EQ(std::find(s.provenance.detected.begin(), s.provenance.detected.end(), "cuda"),
            s.provenance.detected.end());
}

TEST(Selection, StrictModeTurnsFallbackIntoAnError) {
  if (cuda_usable()) GTEST_SKIP() << "a CUDA device is present: nothing to fall back from";
  SelectionEnv env;
  env.strict = true;
  const std::string msg = error_of([&] { select_backend(request("cuda"), env); });
  EXPECT_NE(msg.find("backend 'cuda' was requested but cannot run this model"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("CONCORD_STRICT=1"), std::string::npos) << msg;
}

TEST(Selection, PriorityChainDecidesAutoAndFallback) {
  SelectionEnv env;
  env.priority = "cpu-ref, cpu";
  EXPECT_EQ(select_backend(request(), env).provenance.selected, "cpu-ref");
}

TEST(Selection, MissingCapabilityIsSkippedWithItsReason) {
  // No backend reads IQ2_XXS weights: every candidate is skipped with the reason.
  const std::string msg =
      error_of([&] { select_backend(request("cpu", {GgmlType::IQ2_XXS}), SelectionEnv{}); });
  EXPECT_NE(msg.find("no backend can run this model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cpu: no IQ2_XXS weight support"), std::string::npos) << msg;
}

TEST(Selection, UnknownNamesAreClearErrors) {
  EXPECT_NE(error_of([] {
              select_backend(request("tpu"), SelectionEnv{});
            }).find("unknown backend 'tpu' in --backend"),
            std::string::npos);
  SelectionEnv env;
  env.backend = "metal";
  EXPECT_NE(error_of([&] { select_backend(request(), env); }).find("in CONCORD_BACKEND"),
            std::string::npos);
  SelectionEnv chain;
  chain.priority = "cpu,fpga";
  EXPECT_NE(error_of([&] { select_backend(request(), chain); }).find("in CONCORD_BACKEND_PRIORITY"),
            std::string::npos);
}

}  // namespace
}  // namespace concord
