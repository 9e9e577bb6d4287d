// Perplexity of a token sequence: exp of the mean negative log-likelihood of each token
// given those before it. Long texts are cut into windows of the cache's context, each
// scored from a fresh start (the first token of a window only conditions).
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "model/model.h"
#include "runtime/kv_cache.h"
#include "tokenizer/vocab.h"

namespace concord {

struct PerplexityResult {
  double perplexity = 0.0;
  double mean_nll = 0.0;  // nats per scored token
  int64_t n_scored = 0;   // tokens predicted
  int64_t n_windows = 0;
};

// Rows of logits as they are computed: (first position, rows [n, n_vocab]) per step.
using LogitsCallback = std::function<void(int64_t first, std::span<const float> rows)>;

// Scores `tokens` in slot 0 of `cache`; throws concord::Error for fewer than 2 tokens.
PerplexityResult perplexity(Model& model, KvCache& cache, std::span<const TokenId> tokens,
                            const LogitsCallback& on_logits = {});

// Logits of every position of `tokens` run as one sequence in `slot` from position 0,
// in as few forward steps as the cache's sliding-window rings allow: [n, n_vocab].
std::vector<float> sequence_logits(Model& model, KvCache& cache, std::span<const TokenId> tokens,
                                   int slot = 0);

// log softmax(row)[target], in double precision.
double log_probability(std::span<const float> row, TokenId target);

}  // namespace concord
