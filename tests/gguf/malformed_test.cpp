// One test per failure class of the GGUF reader: each asserts the error names the problem.
// Files are built byte by byte so that every field can be made wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "util/error.h"

namespace concord::gguf {
namespace {

// A raw GGUF byte builder (little-endian), version-aware for sizes.
struct Raw {
  uint32_t version = 3;
  std::vector<uint8_t> b;

  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof v);
  }
  void size(uint64_t v) { version == 1 ? put(static_cast<uint32_t>(v)) : put(v); }
  void str(const std::string& s) {
    size(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
  void header(uint64_t n_tensors, uint64_t n_kv) {
    put(kMagic);
    put(version);
    size(n_tensors);
    size(n_kv);
  }
  void kv_u32(const std::string& key, uint32_t v) {
    str(key);
    put(static_cast<uint32_t>(ValueType::U32));
    put(v);
  }
  void tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name);
    put(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) size(d);
    put(type);
    put(offset);
  }
  void pad(size_t alignment = 32) {
    while (b.size() % alignment) b.push_back(0);
  }
  void data(size_t n) {
    for (size_t i = 0; i < n; ++i) b.push_back(0xab);
  }
};

// Two F32 tensors of 4 and 8 elements at offsets 0 and 32.
Raw valid_file() {
  Raw r;
  r.header(2, 1);
  r.kv_u32("general.alignment", 32);
  r.tensor("a", {4}, 0, 0);
  r.tensor("b", {8}, 0, 32);
  r.pad();
  r.data(64);
  return r;
}

// Expects parsing to fail with a message containing every fragment.
void expect_error(const std::vector<uint8_t>& bytes, std::initializer_list<std::string> fragments) {
  try {
    File::parse(bytes, "bad.gguf");
    ADD_FAILURE() << "parsing succeeded; expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("bad.gguf: ", 0), 0u) << msg;
    for (const std::string& f : fragments) {
      EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
    }
  }
}

TEST(GgufMalformed, ValidBaselineParses) {
  const File f = File::parse(valid_file().b, "ok.gguf");
  EXPECT_EQ(f.tensors().size(), 2u);
}

TEST(GgufMalformed, BadMagic) {
  Raw r = valid_file();
  r.b[0] = 'X';
  expect_error(r.b, {"not a GGUF file", "offset 0"});
  expect_error({}, {"not a GGUF file"});
}

TEST(GgufMalformed, UnsupportedVersion) {
  Raw r = valid_file();
  r.b[4] = 7;
  expect_error(r.b, {"unsupported GGUF version 7", "offset 4"});
}

TEST(GgufMalformed, TruncatedAtEveryOffset) {
  const Raw r = valid_file();
  for (size_t n = 0; n < r.b.size(); ++n) {
    const std::vector<uint8_t> prefix(r.b.begin(), r.b.begin() + static_cast<long>(n));
    EXPECT_THROW(File::parse(prefix, "cut"), Error) << "prefix of " << n << " bytes parsed";
  }
  expect_error({r.b.begin(), r.b.begin() + 100}, {"truncated file", "dimension count of 'b'"});
  expect_error({r.b.begin(), r.b.begin() + 20}, {"tensor count 2", "cannot fit"});
  expect_error({r.b.begin(), r.b.end() - 4}, {"'b'", "extends past the end of the file"});
}

TEST(GgufMalformed, CountsThatCannotFit) {
  Raw r;
  r.header(1ull << 40, 0);
  expect_error(r.b, {"tensor count 1099511627776", "cannot fit", "offset 8"});
  Raw k;
  k.header(0, 1ull << 60);
  expect_error(k.b, {"metadata count", "cannot fit", "offset 16"});
}

TEST(GgufMalformed, StringLengthBeyondTheFile) {
  Raw r;
  r.header(0, 1);
  r.size(1ull << 62);  // key length
  r.b.resize(r.b.size() + 16);
  expect_error(r.b, {"key of metadata entry 0", "string length 4611686018427387904", "exceeds"});
}

TEST(GgufMalformed, ArrayCountBeyondTheFile) {
  Raw r;
  r.header(0, 1);
  r.str("arr");
  r.put(static_cast<uint32_t>(ValueType::Array));
  r.put(static_cast<uint32_t>(ValueType::U64));
  r.size(1000);  // 8000 bytes of u64 in a tiny file
  r.data(16);
  expect_error(r.b, {"'arr': element count 1000", "cannot fit"});
}

TEST(GgufMalformed, UnknownValueType) {
  Raw r;
  r.header(0, 1);
  r.str("key");
  r.put(uint32_t{13});
  r.data(8);
  expect_error(r.b, {"type of 'key'", "unknown value type 13"});
}

TEST(GgufMalformed, ArraysNestedTooDeep) {
  Raw r;
  r.header(0, 1);
  r.str("deep");
  r.put(static_cast<uint32_t>(ValueType::Array));
  for (int i = 0; i < 20; ++i) {
    r.put(static_cast<uint32_t>(ValueType::Array));
    r.size(1);
  }
  r.data(64);
  expect_error(r.b, {"'deep'", "nested deeper"});
}

TEST(GgufMalformed, InvalidBool) {
  Raw r;
  r.header(0, 1);
  r.str("flag");
  r.put(static_cast<uint32_t>(ValueType::Bool));
  r.put(uint8_t{2});
  expect_error(r.b, {"'flag'", "bool value 2"});
}

TEST(GgufMalformed, DuplicateKey) {
  Raw r;
  r.header(0, 2);
  r.kv_u32("x", 1);
  r.kv_u32("x", 2);
  expect_error(r.b, {"duplicate metadata key 'x'"});
}

TEST(GgufMalformed, BadAlignment) {
  Raw r;
  r.header(0, 1);
  r.kv_u32("general.alignment", 24);
  expect_error(r.b, {"general.alignment must be a uint32 power of two", "24"});
}

TEST(GgufMalformed, UnknownTensorType) {
  Raw r;
  r.header(1, 0);
  r.tensor("w", {4}, 99, 0);
  r.pad();
  r.data(32);
  expect_error(r.b, {"tensor 'w'", "unknown tensor type id 99"});
}

TEST(GgufMalformed, TooManyDimensions) {
  Raw r;
  r.header(1, 0);
  r.tensor("w", {1, 1, 1, 1, 1}, 0, 0);
  r.pad();
  r.data(32);
  expect_error(r.b, {"tensor 'w'", "5 dimensions"});
}

TEST(GgufMalformed, ElementCountOverflowAndZeroDims) {
  Raw r;
  r.header(1, 0);
  r.tensor("w", {1ull << 40, 1ull << 40}, 0, 0);
  r.data(32);
  expect_error(r.b, {"tensor 'w'", "overflows"});
  Raw z;
  z.header(1, 0);
  z.tensor("w", {4, 0}, 0, 0);
  z.data(32);
  expect_error(z.b, {"tensor 'w'", "dimension 1 = 0"});
}

TEST(GgufMalformed, RowNotAMultipleOfTheBlock) {
  Raw r;
  r.header(1, 0);
  r.tensor("w", {33}, 8 /* Q8_0 */, 0);
  r.pad();
  r.data(64);
  expect_error(r.b, {"tensor 'w'", "row length 33", "Q8_0 block size 32"});
}

TEST(GgufMalformed, DuplicateTensorName) {
  Raw r;
  r.header(2, 0);
  r.tensor("w", {4}, 0, 0);
  r.tensor("w", {4}, 0, 32);
  r.pad();
  r.data(64);
  expect_error(r.b, {"duplicate tensor name 'w'"});
}

TEST(GgufMalformed, MisalignedOffset) {
  Raw r;
  r.header(1, 0);
  r.tensor("w", {4}, 0, 4);
  r.pad();
  r.data(64);
  expect_error(r.b, {"tensor 'w'", "offset 4 is misaligned", "alignment 32"});
}

TEST(GgufMalformed, OverlappingTensors) {
  Raw r;
  r.header(2, 0);
  r.tensor("a", {16}, 0, 0);  // 64 bytes: [0, 64)
  r.tensor("b", {4}, 0, 32);  // [32, 48) inside a
  r.pad();
  r.data(128);
  expect_error(r.b, {"tensors 'a' and 'b' overlap"});
}

TEST(GgufMalformed, DataPastTheEnd) {
  Raw r;
  r.header(1, 0);
  r.tensor("w", {4}, 0, 1ull << 62);
  r.pad();
  r.data(32);
  expect_error(r.b, {"tensor 'w'", "extends past the end of the file"});
}

TEST(GgufMalformed, MissingFileIsAClearError) {
  try {
    File::open("/nonexistent/model.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open '/nonexistent/model.gguf'"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace concord::gguf
