// Writer -> reader round trips over every value type, nested arrays and every version.
#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "quant/quant.h"
#include "util/rng.h"

namespace concord::gguf {
namespace {

Writer sample_writer(uint32_t version) {
  Writer w(version);
  w.set("u8", uint8_t{200});
  w.set("i8", int8_t{-100});
  w.set("u16", uint16_t{60000});
  w.set("i16", int16_t{-30000});
  w.set("u32", uint32_t{4000000000u});
  w.set("i32", int32_t{-2000000000});
  w.set("f32", 1.5f);
  w.set("bool", true);
  w.set("string", "héllo ▁world");
  w.set("u64", uint64_t{1} << 40);
  w.set("i64", -(int64_t{1} << 40));
  w.set("f64", 2.25);
  w.set("ints", make_array(ValueType::I32, std::vector<int32_t>{1, -2, 3}));
  w.set("strings", make_array(ValueType::String, std::vector<std::string>{"a", "", "ccc"}));
  Array nested{ValueType::Array, {}};
  nested.items.emplace_back(make_array(ValueType::U8, std::vector<uint8_t>{1, 2}));
  nested.items.emplace_back(make_array(ValueType::U8, std::vector<uint8_t>{}));
  w.set("nested", nested);
  w.set("empty", Array{ValueType::F64, {}});
  return w;
}

class GgufRoundTrip : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufRoundTrip, EveryValueTypeSurvives) {
  const uint32_t version = GetParam();
  const File f = File::parse(sample_writer(version).to_bytes(), "sample");
  EXPECT_EQ(f.version(), version);
  EXPECT_EQ(f.metadata().size(), 16u);
  EXPECT_EQ(std::get<uint8_t>(f.find("u8")->data), 200);
  EXPECT_EQ(std::get<int8_t>(f.find("i8")->data), -100);
  EXPECT_EQ(std::get<uint16_t>(f.find("u16")->data), 60000);
  EXPECT_EQ(std::get<int16_t>(f.find("i16")->data), -30000);
  EXPECT_EQ(f.get_int("u32"), 4000000000);
  EXPECT_EQ(f.get_int("i32"), -2000000000);
  EXPECT_EQ(f.get_float("f32"), 1.5);
  EXPECT_EQ(f.get_bool("bool"), true);
  EXPECT_EQ(f.get_string("string"), "héllo ▁world");
  EXPECT_EQ(f.get_int("u64"), int64_t{1} << 40);
  EXPECT_EQ(f.get_int("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(f.get_float("f64"), 2.25);
  const Array* ints = f.get_array("ints");
  ASSERT_NE(ints, nullptr);
  ASSERT_EQ(ints->items.size(), 3u);
  EXPECT_EQ(ints->items[1].as_i64(), -2);
  EXPECT_EQ(std::get<std::string>(f.get_array("strings")->items[2].data), "ccc");
  const Array* nested = f.get_array("nested");
  ASSERT_EQ(nested->items.size(), 2u);
  EXPECT_EQ(std::get<Array>(nested->items[0].data).items[1].as_i64(), 2);
  EXPECT_TRUE(std::get<Array>(nested->items[1].data).items.empty());
  EXPECT_TRUE(f.get_array("empty")->items.empty());
  EXPECT_EQ(f.find("absent"), nullptr);
}

TEST_P(GgufRoundTrip, TensorsKeepShapeTypeAndBytes) {
  Writer w(GetParam());
  Rng rng(3);
  std::vector<float> values(256 * 3);
  for (float& v : values) v = rng.normal();
  w.add_tensor("a.weight", GgmlType::Q4_K, {256, 3}, quantize(GgmlType::Q4_K, values));
  w.add_tensor("b", GgmlType::F32, {5}, std::vector<uint8_t>(20, 7));
  w.add_tensor("c", GgmlType::F16, {2, 3, 4, 1}, std::vector<uint8_t>(48, 9));
  const std::vector<uint8_t> bytes = w.to_bytes();
  const File f = File::parse(bytes, "tensors");
  ASSERT_EQ(f.tensors().size(), 3u);
  const TensorInfo& a = f.tensor("a.weight");
  EXPECT_EQ(a.type, GgmlType::Q4_K);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{256, 3}));
  EXPECT_EQ(a.n_bytes, 3 * 144u);
  EXPECT_EQ(a.offset % f.alignment(), 0u);
  EXPECT_EQ(std::vector<uint8_t>(a.data.begin(), a.data.end()), quantize(GgmlType::Q4_K, values));
  EXPECT_EQ(f.tensor("c").n_elements(), 24);
  EXPECT_EQ(f.tensor("c").shape_string(), "[2, 3, 4, 1]");
  EXPECT_EQ(f.tensor("b").data[19], 7);
  EXPECT_EQ(f.find_tensor("missing"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Versions, GgufRoundTrip, ::testing::Values(1u, 2u, 3u));

TEST(GgufRoundTripAlignment, CustomAlignmentIsHonoured) {
  Writer w;
  w.set("general.alignment", uint32_t{64});
  w.add_tensor("x", GgmlType::F32, {3}, std::vector<uint8_t>(12, 1));
  w.add_tensor("y", GgmlType::F32, {3}, std::vector<uint8_t>(12, 2));
  const File f = File::parse(w.to_bytes(), "aligned");
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.tensor("y").offset, 64u);
  EXPECT_EQ(f.tensor("y").data[0], 2);
}

TEST(GgufRoundTripTyped, WrongTypeIsAClearError) {
  const File f = File::parse(sample_writer(3).to_bytes(), "sample");
  try {
    f.get_string("u32");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "sample: metadata key 'u32' should be a string, found uint32");
  }
  EXPECT_THROW(f.require_int("nope"), std::exception);
  EXPECT_THROW(f.tensor("nope"), std::exception);
}

TEST(GgufWriter, RejectsInconsistentTensors) {
  Writer w;
  EXPECT_THROW(w.add_tensor("x", GgmlType::F32, {3}, std::vector<uint8_t>(11)), std::exception);
  EXPECT_THROW(w.add_tensor("x", GgmlType::Q8_0, {33}, std::vector<uint8_t>(34)), std::exception);
  w.add_tensor("x", GgmlType::F32, {1}, std::vector<uint8_t>(4));
  EXPECT_THROW(w.add_tensor("x", GgmlType::F32, {1}, std::vector<uint8_t>(4)), std::exception);
  EXPECT_THROW(Writer(4), std::exception);
}

}  // namespace
}  // namespace concord::gguf
