// GGUF parsing with strict validation: every read is bounds-checked, every count is
// checked against the bytes left before anything is allocated, and every error names
// the file, the offset and the field.
#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "gguf/gguf.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace concord::gguf {
namespace {

constexpr uint32_t kMaxArrayDepth = 8;

bool is_power_of_two(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

class Parser {
 public:
  Parser(File& file) : f_(file), bytes_(file.bytes_) {}

  void run() {
    read_header();
    for (uint64_t i = 0; i < n_kv_; ++i) read_key_value(i);
    read_alignment();
    for (uint64_t i = 0; i < n_tensors_; ++i) read_tensor_info(i);
    place_tensor_data();
  }

 private:
  // --- bounded reads --------------------------------------------------------------------
  [[noreturn]] void error(uint64_t at, const std::string& what) const {
    fail("{}: {} (at offset {})", f_.label_, what, at);
  }
  uint64_t left() const { return bytes_.size() - pos_; }
  void need(uint64_t n, std::string_view field) const {
    if (n > left()) {
      error(pos_,
            fmt::format("truncated file: {} needs {} bytes but only {} remain", field, n, left()));
    }
  }
  template <typename T>
  T read(std::string_view field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  // Counts, lengths and dims are u32 in version 1, u64 after.
  uint64_t read_size(std::string_view field) {
    return f_.version_ == 1 ? read<uint32_t>(field) : read<uint64_t>(field);
  }
  size_t size_field_bytes() const { return f_.version_ == 1 ? 4 : 8; }
  std::string read_string(std::string_view field) {
    const uint64_t at = pos_;
    const uint64_t length = read_size(field);
    if (length > left()) {
      error(at, fmt::format("{}: string length {} exceeds the {} bytes left in the file", field,
                            length, left()));
    }
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return s;
  }
  // A count of items of at least `min_item_bytes` each must fit in what is left.
  void check_count(uint64_t at, uint64_t count, uint64_t min_item_bytes, std::string_view field) {
    if (count > left() / min_item_bytes) {
      error(at,
            fmt::format("{} {} cannot fit in the {} bytes left in the file", field, count, left()));
    }
  }

  // --- header and metadata -----------------------------------------------------------------
  void read_header() {
    if (bytes_.size() < 4 || read<uint32_t>("magic") != kMagic) {
      error(0, "not a GGUF file: the magic bytes are not \"GGUF\"");
    }
    f_.version_ = read<uint32_t>("version");
    if (f_.version_ < 1 || f_.version_ > 3) {
      error(4, fmt::format("unsupported GGUF version {} (expected 1, 2 or 3)", f_.version_));
    }
    uint64_t at = pos_;
    n_tensors_ = read_size("tensor count");
    const uint64_t min_tensor_info =
        2 * size_field_bytes() + 4 + 4 + 8;  // name, 1 dim, type, offset
    check_count(at, n_tensors_, min_tensor_info, "tensor count");
    at = pos_;
    n_kv_ = read_size("metadata count");
    check_count(at, n_kv_, size_field_bytes() + 4 + 1, "metadata count");
  }

  void read_key_value(uint64_t index) {
    const uint64_t at = pos_;
    std::string key = read_string(fmt::format("key of metadata entry {}", index));
    if (!seen_keys_.insert(key).second) error(at, fmt::format("duplicate metadata key '{}'", key));
    const ValueType type = read_value_type(fmt::format("type of '{}'", key));
    Value value = read_value(type, key, 0);
    f_.metadata_.emplace_back(std::move(key), std::move(value));
  }

  ValueType read_value_type(const std::string& field) {
    const uint64_t at = pos_;
    const uint32_t code = read<uint32_t>(field);
    if (code >= kValueTypeCount) {
      error(at, fmt::format("{}: unknown value type {} (expected 0..{})", field, code,
                            kValueTypeCount - 1));
    }
    return static_cast<ValueType>(code);
  }

  static uint64_t min_value_bytes(ValueType type, size_t size_field) {
    switch (type) {
      case ValueType::U8:
      case ValueType::I8:
      case ValueType::Bool:
        return 1;
      case ValueType::U16:
      case ValueType::I16:
        return 2;
      case ValueType::U32:
      case ValueType::I32:
      case ValueType::F32:
        return 4;
      case ValueType::U64:
      case ValueType::I64:
      case ValueType::F64:
        return 8;
      case ValueType::String:
        return size_field;
      case ValueType::Array:
        return 4 + size_field;
    }
    return 1;
  }

  Value read_value(ValueType type, const std::string& key, uint32_t depth) {
    switch (type) {
      case ValueType::U8:
        return read<uint8_t>(key);
      case ValueType::I8:
        return read<int8_t>(key);
      case ValueType::U16:
        return read<uint16_t>(key);
      case ValueType::I16:
        return read<int16_t>(key);
      case ValueType::U32:
        return read<uint32_t>(key);
      case ValueType::I32:
        return read<int32_t>(key);
      case ValueType::F32:
        return read<float>(key);
      case ValueType::U64:
        return read<uint64_t>(key);
      case ValueType::I64:
        return read<int64_t>(key);
      case ValueType::F64:
        return read<double>(key);
      case ValueType::Bool: {
        const uint64_t at = pos_;
        const uint8_t b = read<uint8_t>(key);
        if (b > 1) error(at, fmt::format("'{}': bool value {} is neither 0 nor 1", key, b));
        return b == 1;
      }
      case ValueType::String:
        return read_string(key);
      case ValueType::Array:
        return read_array(key, depth);
    }
    error(pos_, fmt::format("'{}': unknown value type", key));
  }

  Value read_array(const std::string& key, uint32_t depth) {
    if (depth >= kMaxArrayDepth) {
      error(pos_, fmt::format("'{}': arrays nested deeper than {}", key, kMaxArrayDepth));
    }
    Array array;
    array.element_type = read_value_type(fmt::format("element type of '{}'", key));
    const uint64_t at = pos_;
    const uint64_t count = read_size(fmt::format("element count of '{}'", key));
    check_count(at, count, min_value_bytes(array.element_type, size_field_bytes()),
                fmt::format("'{}': element count", key));
    array.items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      array.items.push_back(read_value(array.element_type, key, depth + 1));
    }
    return array;
  }

  void read_alignment() {
    const Value* v = f_.find("general.alignment");
    if (v == nullptr) return;
    if (v->type() != ValueType::U32 || !is_power_of_two(v->as_u64())) {
      fail("{}: general.alignment must be a uint32 power of two, found {} {}", f_.label_,
           value_type_name(v->type()), v->is_integer() ? std::to_string(v->as_i64()) : "");
    }
    f_.alignment_ = v->as_u64();
  }

  // --- tensor infos and data ---------------------------------------------------------------
  void read_tensor_info(uint64_t index) {
    const uint64_t at = pos_;
    TensorInfo t;
    t.name = read_string(fmt::format("name of tensor {}", index));
    if (!seen_tensors_.insert(t.name).second) {
      error(at, fmt::format("duplicate tensor name '{}'", t.name));
    }
    const uint64_t dims_at = pos_;
    const uint32_t n_dims = read<uint32_t>(fmt::format("dimension count of '{}'", t.name));
    if (n_dims < 1 || n_dims > kMaxDims) {
      error(dims_at,
            fmt::format("tensor '{}': {} dimensions (expected 1..{})", t.name, n_dims, kMaxDims));
    }
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_at = pos_;
      const uint64_t dim = read_size(fmt::format("dimension {} of '{}'", d, t.name));
      if (dim == 0 || dim > static_cast<uint64_t>(INT64_MAX) ||
          __builtin_mul_overflow(n_elements, static_cast<int64_t>(dim), &n_elements)) {
        error(dim_at, fmt::format("tensor '{}': dimension {} = {} is zero or overflows the "
                                  "element count",
                                  t.name, d, dim));
      }
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint64_t type_at = pos_;
    const uint32_t type_id = read<uint32_t>(fmt::format("type of '{}'", t.name));
    const std::optional<TypeInfo> info = find_type_info(type_id);
    if (!info)
      error(type_at, fmt::format("tensor '{}': unknown tensor type id {}", t.name, type_id));
    t.type = info->type;
    if (t.shape[0] % info->block_size != 0) {
      error(dims_at, fmt::format("tensor '{}': row length {} is not a multiple of the {} block "
                                 "size {}",
                                 t.name, t.shape[0], info->name, info->block_size));
    }
    const uint64_t n_blocks = static_cast<uint64_t>(n_elements / info->block_size);
    if (__builtin_mul_overflow(n_blocks, info->block_bytes, &t.n_bytes)) {
      error(dims_at, fmt::format("tensor '{}': byte size overflows", t.name));
    }
    const uint64_t offset_at = pos_;
    t.offset = read<uint64_t>(fmt::format("data offset of '{}'", t.name));
    if (t.offset % f_.alignment_ != 0) {
      error(offset_at, fmt::format("tensor '{}': data offset {} is misaligned (alignment {})",
                                   t.name, t.offset, f_.alignment_));
    }
    f_.tensors_.push_back(std::move(t));
  }

  void place_tensor_data() {
    const uint64_t data_offset = (pos_ + f_.alignment_ - 1) / f_.alignment_ * f_.alignment_;
    if (!f_.tensors_.empty() && data_offset > bytes_.size()) {
      error(pos_, fmt::format("truncated file: tensor data should start at {} but the file has "
                              "{} bytes",
                              data_offset, bytes_.size()));
    }
    f_.data_offset_ = data_offset;
    const uint64_t data_size = bytes_.size() - std::min<uint64_t>(data_offset, bytes_.size());
    std::vector<const TensorInfo*> by_offset;
    for (TensorInfo& t : f_.tensors_) {
      if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
        error(data_offset + std::min(t.offset, data_size),
              fmt::format("tensor '{}': data [{}, +{} bytes) extends past the end of the file "
                          "({} data bytes)",
                          t.name, t.offset, t.n_bytes, data_size));
      }
      t.data = bytes_.subspan(data_offset + t.offset, t.n_bytes);
      by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const TensorInfo& prev = *by_offset[i - 1];
      const TensorInfo& next = *by_offset[i];
      if (prev.offset + prev.n_bytes > next.offset) {
        error(data_offset + next.offset,
              fmt::format("tensors '{}' and '{}' overlap: [{}, {}) and [{}, {})", prev.name,
                          next.name, prev.offset, prev.offset + prev.n_bytes, next.offset,
                          next.offset + next.n_bytes));
      }
    }
  }

  File& f_;
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
  std::unordered_set<std::string> seen_keys_;
  std::unordered_set<std::string> seen_tensors_;
};

File File::open(const std::string& path) {
  auto mapping = std::make_shared<MappedFile>(path);
  File f;
  f.bytes_ = mapping->bytes();
  f.owner_ = std::move(mapping);
  f.label_ = path;
  Parser(f).run();
  return f;
}

File File::parse_view(std::span<const uint8_t> bytes, std::string label) {
  File f;
  f.bytes_ = bytes;
  f.label_ = std::move(label);
  Parser(f).run();
  return f;
}

File File::parse(std::vector<uint8_t> bytes, std::string label) {
  auto buffer = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  File f = parse_view(*buffer, std::move(label));
  f.owner_ = std::move(buffer);
  return f;
}

}  // namespace concord::gguf
