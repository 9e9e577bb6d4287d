// GGUF metadata values: every value type of the format, nested arrays included.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace concord::gguf {

// Value type codes as stored in the file.
enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
inline constexpr uint32_t kValueTypeCount = 13;

std::string_view value_type_name(ValueType type);

struct Value;

// A homogeneous array; its elements may themselves be arrays.
struct Array {
  ValueType element_type = ValueType::U8;
  std::vector<Value> items;
};

// The variant's alternative index equals the ValueType code, so type() is exact.
struct Value {
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                               std::string, Array, uint64_t, int64_t, double>;
  Storage data;

  Value() = default;
  template <typename T>
  Value(T v) : data(std::move(v)) {}  // NOLINT: implicit by design, Value{uint32_t(5)}
  Value(const char* s) : data(std::string(s)) {}

  ValueType type() const { return static_cast<ValueType>(data.index()); }
  bool is_integer() const;
  // Integer value widened, for any integer type (not bool).
  int64_t as_i64() const;
  uint64_t as_u64() const;
  double as_f64() const;  // for any numeric type
};

// Deep equality (type and value; NaN is unequal to itself as usual).
bool operator==(const Array& a, const Array& b);
bool operator==(const Value& a, const Value& b);

// Helpers to build typed arrays (the writer and tests use them).
template <typename T>
Array make_array(ValueType element_type, const std::vector<T>& values) {
  Array a{element_type, {}};
  a.items.reserve(values.size());
  for (const T& v : values) a.items.emplace_back(v);
  return a;
}

}  // namespace concord::gguf
