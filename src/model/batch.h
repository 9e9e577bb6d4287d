// A ragged batch of tokens from several sequences, each at its own position: prefill
// chunks and single decode tokens mixed in one forward step.
#pragma once

#include <cstdint>
#include <vector>

#include "tokenizer/vocab.h"

namespace concord {

struct Batch {
  std::vector<TokenId> tokens;
  std::vector<int32_t> positions;  // position of each token in its sequence
  std::vector<int32_t> slots;      // KV-cache slot of each token's sequence
  std::vector<uint8_t> logits;     // 1 where the caller wants this token's logits

  void add(TokenId token, int32_t position, int32_t slot, bool want_logits) {
    tokens.push_back(token);
    positions.push_back(position);
    slots.push_back(slot);
    logits.push_back(want_logits ? 1 : 0);
  }
  int size() const { return static_cast<int>(tokens.size()); }
  int n_logits() const {
    int n = 0;
    for (uint8_t l : logits) n += l;
    return n;
  }
  void clear() {
    tokens.clear();
    positions.clear();
    slots.clear();
    logits.clear();
  }
};

}  // namespace concord
