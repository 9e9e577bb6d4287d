#include "runtime/stop_matcher.h"

#include <gtest/gtest.h>

namespace concord {
namespace {

std::string feed(StopMatcher& m, const std::vector<std::string>& chunks) {
  std::string out;
  for (const std::string& c : chunks) out += m.push(c);
  return out + m.flush();
}

TEST(StopMatcher, FindsStopsSplitAcrossChunksAndDropsThem) {
  StopMatcher m({"</end>"});
  EXPECT_EQ(feed(m, {"hello </", "en", "d> tail"}), "hello ");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, ReleasesHeldTextThatTurnsOutNotToBeAStop) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("abc ST"), "abc ");
  EXPECT_EQ(m.push("AR"), "STAR");
  EXPECT_EQ(m.flush(), "");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher m({"world", "lo"});
  EXPECT_EQ(feed(m, {"hello world"}), "hel");
}

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.push("abc"), "abc");
}

}  // namespace
}  // namespace concord
