// A model's weights resident on a backend: validated against the architecture's tensor
// list (presence, shape, type), uploaded once into one device buffer.
#pragma once

#include <map>
#include <span>
#include <string>

#include "backend/backend.h"
#include "gguf/gguf.h"
#include "model/hparams.h"

namespace concord {

class WeightStore {
 public:
  // `architecture` names the model family in errors. 2-D tensors keep their format; 1-D
  // tensors are converted to float32.
  WeightStore(const gguf::File& file, Backend& backend, std::span<const TensorSpec> specs,
              const std::string& architecture);

  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  Weight matrix(const std::string& name) const;
  const float* vector(const std::string& name) const;  // null if absent

  uint64_t bytes() const { return bytes_; }
  uint64_t n_params() const { return n_params_; }
  std::vector<GgmlType> types() const;

 private:
  struct Entry {
    Weight weight;
    size_t offset;
  };
  std::unique_ptr<DeviceBuffer> buffer_;
  std::map<std::string, Entry> entries_;
  uint64_t bytes_ = 0, n_params_ = 0;
};

}  // namespace concord
