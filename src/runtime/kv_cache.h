// The KV-cache manager: device memory for every layer's keys and values, organised as
// slots (one per concurrent sequence) of n_ctx positions each, plus slot bookkeeping.
// Sliding-window layers keep a ring of window + step_tokens rows instead (position p in
// row p mod rows), which holds every key a step of up to step_tokens tokens per sequence
// can attend to: memory for local layers is bounded by the window, not the context.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "model/model.h"

namespace concord {

class KvCache {
 public:
  static constexpr int64_t kDefaultStepTokens = 512;
  // step_tokens: the most tokens of one sequence a forward step may carry; 0 gives every
  // layer the full context (no rings, e.g. as the masked reference in tests).
  KvCache(Backend& backend, const ModelInfo& model, int n_slots, int64_t n_ctx, KvType type,
          int64_t step_tokens = kDefaultStepTokens);

  std::span<const KvLayer> layers() const { return layers_; }
  int n_slots() const { return static_cast<int>(used_.size()); }
  int64_t n_ctx() const { return n_ctx_; }
  // Tokens of one sequence a forward step may carry (0: unlimited).
  int64_t step_tokens() const { return step_tokens_; }
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
  int64_t step_tokens_;
  uint64_t bytes_ = 0;
  std::vector<std::unique_ptr<DeviceBuffer>> buffers_;
  std::vector<KvLayer> layers_;
  std::vector<bool> used_;
  std::vector<int64_t> length_;
};

}  // namespace concord
