// Where tests find the shared material (../shared) and the concord binary.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace concord::test {

inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("CONCORD_SHARED")) return env;
  return CONCORD_SHARED_DIR;
}

inline std::filesystem::path shared_file(const std::string& relative) {
  return shared_dir() / relative;
}

// A fresh scratch directory per test, removed by the caller's TempDir destructor.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (std::string("concord-") + info->test_suite_name() + "-" + info->name() + "-" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace concord::test

// Skips the test, with the reason, where ../shared is not present.
#define CONCORD_REQUIRE_SHARED(relative)                                                        \
  do {                                                                                          \
    if (!std::filesystem::exists(::concord::test::shared_file(relative))) {                     \
      GTEST_SKIP() << "shared test material absent: " << ::concord::test::shared_file(relative) \
                   << " (set CONCORD_SHARED or place ../shared beside the checkout)";           \
    }                                                                                           \
  } while (0)
