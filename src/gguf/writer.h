// Writes GGUF files (any version 1..3): used by `synth`, `quantize` and the tests.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "gguf/value.h"
#include "quant/types.h"

namespace concord::gguf {

class Writer {
 public:
  explicit Writer(uint32_t version = 3);

  // Adds or replaces a metadata entry; insertion order is kept.
  void set(const std::string& key, Value value);
  // `data` must hold exactly the tensor's bytes (row_bytes(type, shape[0]) per row).
  void add_tensor(std::string name, GgmlType type, std::vector<int64_t> shape,
                  std::vector<uint8_t> data);

  void write(std::ostream& out) const;
  std::vector<uint8_t> to_bytes() const;
  // Writes to `path` through a temporary file, so a failed write leaves nothing half-done.
  void write_file(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
  };
  uint64_t alignment() const;

  uint32_t version_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace concord::gguf
