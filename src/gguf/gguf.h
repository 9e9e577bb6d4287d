// GGUF files (versions 1, 2 and 3): metadata, tensor infos and memory-mapped tensor data.
//
// Layout: magic "GGUF", u32 version, tensor count, key/value count (u64; u32 in v1), the
// key/value pairs, the tensor infos (name, n_dims, dims, type, offset), padding to
// `general.alignment` (default 32), then the tensor data. Strings are a length (u64; u32
// in v1) and bytes; dims are u64 (u32 in v1); offsets are u64 relative to the data start.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gguf/value.h"
#include "quant/types.h"

namespace concord::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxDims = 4;

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // shape[0] is the contiguous (innermost) dimension
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t n_bytes = 0;
  std::span<const uint8_t> data;  // into the file's bytes

  int64_t n_elements() const;
  int64_t n_rows() const { return n_elements() / shape.at(0); }
  std::string shape_string() const;  // "[64, 512]"
};

class File {
 public:
  // Memory-maps and validates a file; throws concord::Error naming the file, the offset
  // and the field on any problem.
  static File open(const std::string& path);
  // Validates bytes already in memory (tests, fuzzing); `bytes` must outlive the File.
  static File parse_view(std::span<const uint8_t> bytes, std::string label);
  // As parse_view, owning the bytes.
  static File parse(std::vector<uint8_t> bytes, std::string label);

  const std::string& label() const { return label_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }

  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;
  // Typed lookups: nullopt when absent; a present key of the wrong type throws.
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;  // any numeric type
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  const Array* get_array(std::string_view key) const;
  // Throws "missing metadata key" when absent.
  int64_t require_int(std::string_view key) const;
  std::string require_string(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  const TensorInfo& tensor(std::string_view name) const;  // throws, naming the tensor

 private:
  friend class Parser;
  File() = default;

  std::shared_ptr<const void> owner_;  // keeps the mapping or buffer alive
  std::span<const uint8_t> bytes_;
  std::string label_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace concord::gguf
