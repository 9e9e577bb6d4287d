// The shared stories260K model loads from its v3 and v1 files with identical content.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/paths.h"
#include "gguf/gguf.h"

namespace concord::gguf {
namespace {

TEST(SharedModels, Stories260KVersion1AndVersion3AreIdentical) {
  CONCORD_REQUIRE_SHARED("models/stories260K.gguf");
  CONCORD_REQUIRE_SHARED("models/stories260K-v1.gguf");
  const File v3 = File::open(test::shared_file("models/stories260K.gguf"));
  const File v1 = File::open(test::shared_file("models/stories260K-v1.gguf"));
  EXPECT_EQ(v3.version(), 3u);
  EXPECT_EQ(v1.version(), 1u);
  ASSERT_EQ(v3.metadata().size(), v1.metadata().size());
  for (size_t i = 0; i < v3.metadata().size(); ++i) {
    EXPECT_EQ(v3.metadata()[i].first, v1.metadata()[i].first);
    EXPECT_TRUE(v3.metadata()[i].second == v1.metadata()[i].second) << v3.metadata()[i].first;
  }
  ASSERT_EQ(v3.tensors().size(), 48u);
  ASSERT_EQ(v1.tensors().size(), v3.tensors().size());
  for (size_t i = 0; i < v3.tensors().size(); ++i) {
    const TensorInfo& a = v3.tensors()[i];
    const TensorInfo& b = v1.tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.shape, b.shape);
    EXPECT_EQ(a.type, b.type);
    ASSERT_EQ(a.n_bytes, b.n_bytes);
    EXPECT_TRUE(std::equal(a.data.begin(), a.data.end(), b.data.begin())) << a.name;
  }
  EXPECT_EQ(v3.require_string("general.architecture"), "llama");
  EXPECT_EQ(v3.require_int("llama.embedding_length"), 64);
  EXPECT_EQ(v3.get_array("tokenizer.ggml.tokens")->items.size(), 512u);
  EXPECT_EQ(v3.tensor("token_embd.weight").shape, (std::vector<int64_t>{64, 512}));
}

}  // namespace
}  // namespace concord::gguf
