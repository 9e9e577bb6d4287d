#include "parity/model_parity.h"

#include <algorithm>
#include <cmath>

#include "model/model.h"
#include "runtime/generate.h"
#include "runtime/kv_cache.h"
#include "runtime/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace concord::parity {
namespace {

struct Runner {
  std::unique_ptr<Model> model;
  std::unique_ptr<KvCache> cache;

  Runner(const gguf::File& file, Backend& backend, int64_t n_ctx)
      : model(load_model(file, backend)),
        cache(std::make_unique<KvCache>(backend, model->info(), 1, n_ctx, KvType::F32)) {}

  std::vector<float> all_logits(const std::vector<TokenId>& tokens) {
    return sequence_logits(*model, *cache, tokens);
  }
  std::vector<TokenId> greedy(const Tokenizer& tok, const std::vector<TokenId>& prompt, int n) {
    Sequence seq{0, {}};
    GenerationParams p;
    p.max_tokens = n;
    p.ignore_eos = true;  // compare the full length even past an end token
    return generate(*model, *cache, seq, tok, prompt, p).tokens;
  }
};

struct Top2 {
  int32_t best = 0;
  float first = -INFINITY, second = -INFINITY;
};
Top2 top2(std::span<const float> row) {
  Top2 t;
  for (size_t i = 0; i < row.size(); ++i) {
    if (row[i] > t.first) {
      t.second = t.first;
      t.first = row[i];
      t.best = static_cast<int32_t>(i);
    } else if (row[i] > t.second) {
      t.second = row[i];
    }
  }
  return t;
}

double cosine(std::span<const float> a, std::span<const float> b) {
  double dot = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return aa == 0 || bb == 0 ? (aa == bb ? 1.0 : 0.0) : dot / std::sqrt(aa * bb);
}

bool near_tie(const Top2& t, const ParityThresholds& th) {
  return (t.first - t.second) < th.near_tie * std::fabs(t.first);
}

}  // namespace

const std::vector<std::string>& default_parity_prompts() {
  static const std::vector<std::string> prompts = {
      "Once upon a time", "The little dog was sad because", "One day, a bird named Blue",
      "Lily and Tom went to the park. They saw a big"};
  return prompts;
}

ModelParityReport compare_backends(const gguf::File& file, Backend& a, Backend& b,
                                   const std::vector<std::string>& prompts, int n_generate,
                                   const ParityThresholds& th) {
  const Tokenizer tok = Tokenizer::from_gguf(file);
  ModelParityReport report;
  report.passed = true;
  for (const std::string& prompt : prompts) {
    PromptParity r;
    r.prompt = prompt;
    const std::vector<TokenId> tokens = tok.encode(prompt, true);
    r.n_prompt_tokens = static_cast<int>(tokens.size());
    const int64_t n_ctx = static_cast<int64_t>(tokens.size()) + n_generate + 1;
    Runner ra(file, a, n_ctx), rb(file, b, n_ctx);
    const int64_t n_vocab = ra.model->info().n_vocab;

    const std::vector<float> la = ra.all_logits(tokens), lb = rb.all_logits(tokens);
    for (size_t p = 0; p < tokens.size(); ++p) {
      const std::span<const float> row_a(la.data() + p * n_vocab, n_vocab),
          row_b(lb.data() + p * n_vocab, n_vocab);
      const double c = cosine(row_a, row_b);
      if (c < r.min_cosine) r.min_cosine = c, r.worst_position = static_cast<int>(p);
      const Top2 ta = top2(row_a), tb = top2(row_b);
      if (ta.best != tb.best) (near_tie(ta, th) ? r.top1_near_tie_mismatches : r.top1_mismatches)++;
    }

    r.tokens_a = ra.greedy(tok, tokens, n_generate);
    r.tokens_b = rb.greedy(tok, tokens, n_generate);
    const size_t n = std::min(r.tokens_a.size(), r.tokens_b.size());
    for (size_t i = 0; i < n && r.first_divergence < 0; ++i) {
      if (r.tokens_a[i] != r.tokens_b[i]) r.first_divergence = static_cast<int>(i);
    }
    if (r.first_divergence < 0 && r.tokens_a.size() != r.tokens_b.size())
      r.first_divergence = static_cast<int>(n);
    if (r.first_divergence >= 0) {
      // The reference's logits at the divergent step: prompt + agreed prefix.
      std::vector<TokenId> prefix = tokens;
      prefix.insert(prefix.end(), r.tokens_a.begin(), r.tokens_a.begin() + r.first_divergence);
      const std::vector<float> l = ra.all_logits(prefix);
      const Top2 t = top2(std::span<const float>(l).last(static_cast<size_t>(n_vocab)));
      r.divergence_margin = t.first - t.second;
      r.divergence_is_near_tie = near_tie(t, th);
    }
    r.passed = r.min_cosine >= th.min_cosine && r.top1_mismatches == 0 &&
               (r.first_divergence < 0 || r.divergence_is_near_tie);
    report.passed = report.passed && r.passed;
    report.prompts.push_back(std::move(r));
  }
  return report;
}

nlohmann::json to_json(const ModelParityReport& report) {
  nlohmann::json prompts = nlohmann::json::array();
  for (const PromptParity& r : report.prompts) {
    prompts.push_back({{"prompt", r.prompt},
                       {"prompt_tokens", r.n_prompt_tokens},
                       {"forward",
                        {{"min_cosine", r.min_cosine},
                         {"worst_position", r.worst_position},
                         {"top1_mismatches", r.top1_mismatches},
                         {"top1_near_tie_mismatches", r.top1_near_tie_mismatches}}},
                       {"generation",
                        {{"tokens", r.tokens_a.size()},
                         {"identical", r.first_divergence < 0},
                         {"first_divergence", r.first_divergence},
                         {"top2_margin", r.divergence_margin},
                         {"near_tie", r.divergence_is_near_tie}}},
                       {"passed", r.passed}});
  }
  return {{"prompts", prompts}, {"passed", report.passed}};
}

}  // namespace concord::parity
