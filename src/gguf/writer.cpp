#include "gguf/writer.h"

#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>

#include "gguf/gguf.h"
#include "util/error.h"

namespace concord::gguf {
namespace {

class Sink {
 public:
  Sink(std::ostream& out, uint32_t version) : out_(out), version_(version) {}

  template <typename T>
  void put(T v) {
    out_.write(reinterpret_cast<const char*>(&v), sizeof v);
    pos_ += sizeof v;
  }
  void put_size(uint64_t v) {
    if (version_ == 1) {
      put(static_cast<uint32_t>(v));
    } else {
      put(v);
    }
  }
  void put_bytes(const void* data, size_t n) {
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
    pos_ += n;
  }
  void put_string(const std::string& s) {
    put_size(s.size());
    put_bytes(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    while (pos_ % alignment != 0) put<uint8_t>(0);
  }
  void put_value(const Value& v) {
    std::visit(
        [this](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::string>) {
            put_string(x);
          } else if constexpr (std::is_same_v<T, Array>) {
            put(static_cast<uint32_t>(x.element_type));
            put_size(x.items.size());
            for (const Value& item : x.items) {
              if (item.type() != x.element_type) {
                fail("array element of type {} in an array of {}", value_type_name(item.type()),
                     value_type_name(x.element_type));
              }
              put_value(item);
            }
          } else if constexpr (std::is_same_v<T, bool>) {
            put<uint8_t>(x ? 1 : 0);
          } else {
            put(x);
          }
        },
        v.data);
  }

 private:
  std::ostream& out_;
  uint32_t version_;
  uint64_t pos_ = 0;
};

}  // namespace

Writer::Writer(uint32_t version) : version_(version) {
  if (version < 1 || version > 3) fail("cannot write GGUF version {} (1, 2 or 3)", version);
}

void Writer::set(const std::string& key, Value value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void Writer::add_tensor(std::string name, GgmlType type, std::vector<int64_t> shape,
                        std::vector<uint8_t> data) {
  if (shape.empty() || shape.size() > kMaxDims) {
    fail("tensor '{}': {} dimensions (expected 1..{})", name, shape.size(), kMaxDims);
  }
  const int64_t rows =
      std::accumulate(shape.begin() + 1, shape.end(), int64_t{1}, std::multiplies<>());
  const size_t expected = row_bytes(type, shape[0]) * static_cast<size_t>(rows);
  if (data.size() != expected) {
    fail("tensor '{}': {} bytes given, {} expected for {} rows of {} {}", name, data.size(),
         expected, rows, shape[0], type_name(type));
  }
  for (const Tensor& t : tensors_) {
    if (t.name == name) fail("tensor '{}' added twice", name);
  }
  tensors_.push_back({std::move(name), type, std::move(shape), std::move(data)});
}

uint64_t Writer::alignment() const {
  for (const auto& [k, v] : metadata_) {
    if (k == "general.alignment" && v.type() == ValueType::U32) return v.as_u64();
  }
  return kDefaultAlignment;
}

void Writer::write(std::ostream& out) const {
  const uint64_t align = alignment();
  Sink sink(out, version_);
  sink.put(kMagic);
  sink.put(version_);
  sink.put_size(tensors_.size());
  sink.put_size(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    sink.put_string(key);
    sink.put(static_cast<uint32_t>(value.type()));
    sink.put_value(value);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    sink.put_string(t.name);
    sink.put(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) sink.put_size(static_cast<uint64_t>(d));
    sink.put(static_cast<uint32_t>(t.type));
    sink.put<uint64_t>(offset);
    offset += (t.data.size() + align - 1) / align * align;
  }
  sink.pad_to(align);
  for (const Tensor& t : tensors_) {
    sink.put_bytes(t.data.data(), t.data.size());
    sink.pad_to(align);
  }
}

std::vector<uint8_t> Writer::to_bytes() const {
  std::ostringstream out(std::ios::binary);
  write(out);
  const std::string s = out.str();
  return {s.begin(), s.end()};
}

void Writer::write_file(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create '{}'", tmp);
    write(out);
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      fail("failed writing '{}' (disk full?)", tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail("cannot rename '{}' to '{}'", tmp, path);
  }
}

}  // namespace concord::gguf
