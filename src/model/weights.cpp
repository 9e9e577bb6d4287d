#include "model/weights.h"

#include <set>

#include "quant/quant.h"
#include "util/error.h"

namespace concord {
namespace {

constexpr size_t kAlign = 256;
size_t align_up(size_t v) {
  return (v + kAlign - 1) / kAlign * kAlign;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

WeightStore::WeightStore(const gguf::File& file, Backend& backend,
                         std::span<const TensorSpec> specs, const std::string& architecture) {
  struct Planned {
    const TensorSpec* spec;
    const gguf::TensorInfo* tensor;
    size_t offset, bytes;
  };
  std::vector<Planned> plan;
  size_t total = 0;
  for (const TensorSpec& spec : specs) {
    const gguf::TensorInfo* t = file.find_tensor(spec.name);
    if (t == nullptr) {
      if (spec.required) {
        fail("{}: missing tensor '{}' required by the {} architecture", file.label(), spec.name,
             architecture);
      }
      continue;
    }
    if (t->shape != spec.shape) {
      fail("{}: tensor '{}' has shape {}, the {} architecture expects {}", file.label(), spec.name,
           t->shape_string(), architecture, shape_string(spec.shape));
    }
    if (!type_info(t->type).supported) {
      fail("{}: tensor '{}' has weight type {}, which concord cannot read", file.label(), spec.name,
           type_name(t->type));
    }
    if (spec.is_matrix && !backend.capabilities().supports(t->type)) {
      fail("{}: tensor '{}' has weight type {}, which the {} backend does not support",
           file.label(), spec.name, type_name(t->type), backend.name());
    }
    const size_t bytes = spec.is_matrix ? t->n_bytes : sizeof(float) * t->n_elements();
    plan.push_back({&spec, t, total, bytes});
    total += align_up(bytes);
  }

  buffer_ = backend.allocate(total);
  auto* base = buffer_->as<uint8_t>();
  for (const Planned& p : plan) {
    const gguf::TensorInfo& t = *p.tensor;
    if (p.spec->is_matrix) {
      backend.upload(base + p.offset, t.data.data(), p.bytes);
      entries_[t.name] = {{t.type, t.shape[0], t.n_elements() / t.shape[0], base + p.offset},
                          p.offset};
    } else {
      const std::vector<float> values = dequantize(t.type, t.data, t.n_elements());
      backend.upload(base + p.offset, values.data(), p.bytes);
      entries_[t.name] = {{GgmlType::F32, t.n_elements(), 1, base + p.offset}, p.offset};
    }
    bytes_ += p.bytes;
    n_params_ += static_cast<uint64_t>(t.n_elements());
  }
}

Weight WeightStore::matrix(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) fail("weight '{}' was not loaded", name);
  return it->second.weight;
}

const float* WeightStore::vector(const std::string& name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : static_cast<const float*>(it->second.weight.data);
}

std::vector<GgmlType> WeightStore::types() const {
  std::set<GgmlType> types;
  for (const auto& [name, e] : entries_) types.insert(e.weight.type);
  return {types.begin(), types.end()};
}

}  // namespace concord
