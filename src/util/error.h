// Errors that cross module boundaries: one exception type with an actionable message.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace concord {

// Thrown for bad input (files, requests, flags). Frontends catch it at the boundary
// and print `what()` as one line; it never signals a programming error.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace concord
