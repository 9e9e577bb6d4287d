// Loading a model on a named backend for tests, and comparing logits.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/registry.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace concord::test {

struct LoadedModel {
  std::unique_ptr<gguf::File> file;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<KvCache> cache;

  // step_tokens: see KvCache (0: no sliding-window rings, every layer full-length).
  LoadedModel(gguf::File f, const std::string& backend_name, int n_slots = 1, int64_t n_ctx = 0,
              KvType kv = KvType::F32, int64_t step_tokens = KvCache::kDefaultStepTokens)
      : file(std::make_unique<gguf::File>(std::move(f))),
        backend(create_backend(backend_name, {2})),
        model(load_model(*file, *backend)),
        cache(std::make_unique<KvCache>(*backend, model->info(), n_slots,
                                        n_ctx > 0 ? n_ctx : model->info().n_ctx_train, kv,
                                        step_tokens)) {}

  // Logits of every position of `tokens` run as one sequence in `slot`: [n, n_vocab].
  std::vector<float> all_logits(std::span<const TokenId> tokens, int slot = 0) {
    return sequence_logits(*model, *cache, tokens, slot);
  }
};

struct Similarity {
  double cosine = 0.0, max_abs_diff = 0.0, nmse = 0.0;
};

inline Similarity compare(std::span<const float> a, std::span<const float> b) {
  double dot = 0, aa = 0, bb = 0, err = 0;
  Similarity s;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
    const double d = static_cast<double>(a[i]) - b[i];
    err += d * d;
    s.max_abs_diff = std::max(s.max_abs_diff, std::fabs(d));
  }
  s.cosine = dot / std::sqrt(aa * bb);
  s.nmse = err / bb;
  return s;
}

}  // namespace concord::test
