#include "runtime/kv_cache.h"

#include <algorithm>

#include "util/error.h"

namespace concord {

KvCache::KvCache(Backend& backend, const ModelInfo& model, int n_slots, int64_t n_ctx, KvType type,
                 int64_t step_tokens)
    : type_(type),
      n_ctx_(n_ctx),
      step_tokens_(step_tokens),
      used_(static_cast<size_t>(n_slots), false),
      length_(static_cast<size_t>(n_slots), 0) {
  if (n_slots <= 0) fail("the KV cache needs at least one sequence slot, got {}", n_slots);
  if (n_ctx <= 0) fail("context length must be positive, got {}", n_ctx);
  if (step_tokens < 0) fail("tokens per step must be >= 0, got {}", step_tokens);
  if (!backend.capabilities().supports(type)) {
    fail("the {} backend does not support a {} KV cache", backend.name(), kv_type_name(type));
  }
  const size_t element = type == KvType::F32 ? 4 : 2;
  for (int64_t l = 0; l < model.n_layer; ++l) {
    const size_t index = static_cast<size_t>(l);
    const int64_t window = index < model.layer_window.size() ? model.layer_window[index] : 0;
    const int64_t rows =
        window > 0 && step_tokens > 0 ? std::min(n_ctx, window + step_tokens) : n_ctx;
    const size_t per_tensor = element * static_cast<size_t>(n_slots) * rows * model.kv_width;
    auto k = backend.allocate(per_tensor);
    auto v = backend.allocate(per_tensor);
    layers_.push_back({k->data(), v->data(), type, rows, model.kv_width});
    buffers_.push_back(std::move(k));
    buffers_.push_back(std::move(v));
    bytes_ += 2 * per_tensor;
  }
}

int KvCache::acquire() {
  for (size_t s = 0; s < used_.size(); ++s) {
    if (!used_[s]) {
      used_[s] = true;
      length_[s] = 0;
      return static_cast<int>(s);
    }
  }
  return -1;
}

void KvCache::release(int slot) {
  used_.at(static_cast<size_t>(slot)) = false;
  length_[static_cast<size_t>(slot)] = 0;
}

int KvCache::n_free() const {
  int n = 0;
  for (bool u : used_) n += u ? 0 : 1;
  return n;
}

void KvCache::set_length(int slot, int64_t n) {
  if (n < 0 || n > n_ctx_) fail("sequence length {} is outside the context (0..{})", n, n_ctx_);
  length_.at(static_cast<size_t>(slot)) = n;
}

}  // namespace concord
