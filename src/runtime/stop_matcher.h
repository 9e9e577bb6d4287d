// Finds stop strings in streamed text, even when they straddle token boundaries, and
// releases only text that can no longer be the start of a stop string.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace concord {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Appends text; returns what is now safe to emit. After a match, stopped() is true,
  // the text before the stop string has been returned and the rest is dropped.
  std::string push(std::string_view text);
  // At the end of generation: whatever was held back.
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace concord
