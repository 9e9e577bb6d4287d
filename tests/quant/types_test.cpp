#include "quant/types.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace concord {
namespace {

// Block geometry from the GGUF block layouts: (type, elements per block, bytes per block).
struct Geometry {
  GgmlType type;
  int64_t block_size;
  size_t block_bytes;
};
constexpr Geometry kExpected[] = {
    {GgmlType::F32, 1, 4},      {GgmlType::F16, 1, 2},      {GgmlType::BF16, 1, 2},
    {GgmlType::Q4_0, 32, 18},   {GgmlType::Q4_1, 32, 20},   {GgmlType::Q5_0, 32, 22},
    {GgmlType::Q5_1, 32, 24},   {GgmlType::Q8_0, 32, 34},   {GgmlType::Q2_K, 256, 84},
    {GgmlType::Q3_K, 256, 110}, {GgmlType::Q4_K, 256, 144}, {GgmlType::Q5_K, 256, 176},
    {GgmlType::Q6_K, 256, 210},
};

TEST(Types, BlockGeometryOfEverySupportedFormat) {
  EXPECT_EQ(supported_types().size(), std::size(kExpected));
  for (const Geometry& g : kExpected) {
    const TypeInfo& info = type_info(g.type);
    EXPECT_TRUE(info.supported) << info.name;
    EXPECT_EQ(info.block_size, g.block_size) << info.name;
    EXPECT_EQ(info.block_bytes, g.block_bytes) << info.name;
    EXPECT_EQ(row_bytes(g.type, g.block_size * 3), 3 * g.block_bytes) << info.name;
  }
}

TEST(Types, KnownButUnsupportedTypesParseByIdOnly) {
  const auto iq2 = find_type_info(16);
  ASSERT_TRUE(iq2.has_value());
  EXPECT_EQ(iq2->name, "IQ2_XXS");
  EXPECT_FALSE(iq2->supported);
  EXPECT_EQ(find_type_info(4), std::nullopt);  // removed from the format long ago
  EXPECT_EQ(find_type_info(1000), std::nullopt);
}

TEST(Types, ParseNamesCaseInsensitively) {
  EXPECT_EQ(parse_type_name("q4_k"), GgmlType::Q4_K);
  EXPECT_EQ(parse_type_name("BF16"), GgmlType::BF16);
  try {
    parse_type_name("q9_9");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("q9_9"), std::string::npos) << msg;
      EXPECT_NE(msg.find("Q4_K"), std::string::npos) << msg;  // lists what is supported
    }
  }
  EXPECT_THROW(parse_type_name("IQ2_XXS"), Error);  // known, not supported
}

TEST(Types, RowBytesRejectsPartialBlocks) {
  EXPECT_THROW(row_bytes(GgmlType::Q4_K, 172), Error);
  EXPECT_THROW(row_bytes(GgmlType::Q8_0, 33), Error);
  EXPECT_EQ(row_bytes(GgmlType::F16, 172), 344u);
}

}  // namespace
}  // namespace concord
