// Typed access to a parsed GGUF file's metadata and tensors.
#include <numeric>

#include "gguf/gguf.h"
#include "util/error.h"

namespace concord::gguf {

int64_t TensorInfo::n_elements() const {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

std::string TensorInfo::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const Value* File::find(std::string_view key) const {
  for (const auto& [k, v] : metadata_) {
    if (k == key) return &v;
  }
  return nullptr;
}

namespace {
[[noreturn]] void wrong_type(const std::string& label, std::string_view key, const char* expected,
                             const Value& v) {
  fail("{}: metadata key '{}' should be {}, found {}", label, key, expected,
       value_type_name(v.type()));
}
}  // namespace

std::optional<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_integer()) wrong_type(label_, key, "an integer", *v);
  if (v->type() == ValueType::U64 && v->as_u64() > static_cast<uint64_t>(INT64_MAX)) {
    fail("{}: metadata key '{}' = {} is out of range", label_, key, v->as_u64());
  }
  return v->as_i64();
}

std::optional<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  const ValueType t = v->type();
  if (t != ValueType::F32 && t != ValueType::F64 && !v->is_integer()) {
    wrong_type(label_, key, "a number", *v);
  }
  return v->as_f64();
}

std::optional<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type() != ValueType::Bool) wrong_type(label_, key, "a bool", *v);
  return std::get<bool>(v->data);
}

std::optional<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type() != ValueType::String) wrong_type(label_, key, "a string", *v);
  return std::get<std::string>(v->data);
}

const Array* File::get_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return nullptr;
  if (v->type() != ValueType::Array) wrong_type(label_, key, "an array", *v);
  return &std::get<Array>(v->data);
}

int64_t File::require_int(std::string_view key) const {
  const std::optional<int64_t> v = get_int(key);
  if (!v) fail("{}: missing metadata key '{}'", label_, key);
  return *v;
}

std::string File::require_string(std::string_view key) const {
  std::optional<std::string> v = get_string(key);
  if (!v) fail("{}: missing metadata key '{}'", label_, key);
  return *v;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  for (const TensorInfo& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const TensorInfo& File::tensor(std::string_view name) const {
  const TensorInfo* t = find_tensor(name);
  if (t == nullptr) fail("{}: missing tensor '{}'", label_, name);
  return *t;
}

}  // namespace concord::gguf
