#include "runtime/perplexity.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace concord {

double log_probability(std::span<const float> row, TokenId target) {
  const double max = *std::max_element(row.begin(), row.end());
  double sum = 0.0;
  for (float v : row) sum += std::exp(v - max);
  return row[static_cast<size_t>(target)] - max - std::log(sum);
}

std::vector<float> sequence_logits(Model& model, KvCache& cache, std::span<const TokenId> tokens,
                                   int slot) {
  const size_t step =
      cache.step_tokens() > 0 ? static_cast<size_t>(cache.step_tokens()) : tokens.size();
  std::vector<float> all;
  for (size_t first = 0; first < tokens.size(); first += step) {
    Batch b;
    for (size_t i = first; i < std::min(tokens.size(), first + step); ++i)
      b.add(tokens[i], static_cast<int32_t>(i), slot, true);
    const std::span<const float> logits = model.forward(b, cache.layers());
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

PerplexityResult perplexity(Model& model, KvCache& cache, std::span<const TokenId> tokens,
                            const LogitsCallback& on_logits) {
  if (tokens.size() < 2) fail("perplexity needs at least 2 tokens, got {}", tokens.size());
  const auto n_vocab = static_cast<size_t>(model.info().n_vocab);
  const auto window = static_cast<size_t>(cache.n_ctx());
  const size_t step = cache.step_tokens() > 0 ? static_cast<size_t>(cache.step_tokens()) : window;
  PerplexityResult r;
  double nll = 0.0;
  for (size_t start = 0; start + 1 < tokens.size(); start += window) {
    const size_t end = std::min(tokens.size(), start + window);
    ++r.n_windows;
    // Positions start..end-1 as positions 0.. of a fresh sequence, a few steps at a time.
    for (size_t first = start; first < end; first += step) {
      Batch b;
      const size_t last = std::min(end, first + step);
      for (size_t i = first; i < last; ++i)
        b.add(tokens[i], static_cast<int32_t>(i - start), 0, true);
      const std::span<const float> logits = model.forward(b, cache.layers());
      if (on_logits) on_logits(static_cast<int64_t>(first), logits);
      for (size_t i = first; i < last && i + 1 < end; ++i) {
        const std::span<const float> row(logits.data() + (i - first) * n_vocab, n_vocab);
        nll -= log_probability(row, tokens[i + 1]);
        ++r.n_scored;
      }
    }
  }
  r.mean_nll = nll / static_cast<double>(r.n_scored);
  r.perplexity = std::exp(r.mean_nll);
  return r;
}

}  // namespace concord
