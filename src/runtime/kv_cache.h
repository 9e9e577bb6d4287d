// The KV-cache manager: device memory for every layer's keys and values, organised as
// slots (one per concurrent sequence) of n_ctx positions each, plus slot bookkeeping.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "model/model.h"

namespace concord {

class KvCache {
 public:
  KvCache(Backend& backend, const ModelInfo& model, int n_slots, int64_t n_ctx, KvType type);

  std::span<const KvLayer> layers() const { return layers_; }
  int n_slots() const { return static_cast<int>(used_.size()); }
  int64_t n_ctx() const { return n_ctx_; }
  KvType type() const { return type_; }
  uint64_t bytes() const { return bytes_; }

  // A free slot (its length reset to 0), or -1 when all are taken.
  int acquire();
  void release(int slot);
  int n_free() const;

  // Positions of `slot` that hold valid entries; the next token goes at length().
  int64_t length(int slot) const { return length_.at(static_cast<size_t>(slot)); }
  void set_length(int slot, int64_t n);

 private:
  KvType type_;
  int64_t n_ctx_;
  uint64_t bytes_ = 0;
  std::vector<std::unique_ptr<DeviceBuffer>> buffers_;
  std::vector<KvLayer> layers_;
  std::vector<bool> used_;
  std::vector<int64_t> length_;
};

}  // namespace concord
