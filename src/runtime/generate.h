// The generation loop: prefill the prompt (in chunks), then decode token by token with
// the shared sampler, streaming UTF-8-safe text and honouring stop conditions.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace concord {

enum class FinishReason { Stop, Length, Eos };
std::string_view finish_reason_name(FinishReason reason);  // "stop", "length", "eos"

struct GenerationParams {
  int max_tokens = 128;
  std::vector<std::string> stop;     // stop strings: matched across tokens, not emitted
  std::vector<TokenId> stop_tokens;  // stop token ids besides EOS/EOT
  bool ignore_eos = false;           // EOS/EOT are banned instead of ending generation
  SamplingParams sampling = SamplingParams::greedy();
  int prefill_chunk = 512;  // prompt tokens per forward step
};

struct GenerationResult {
  std::vector<TokenId> tokens;  // generated ids (the ending EOS/stop token excluded)
  std::vector<Sample> samples;  // one per generated token, with log-probabilities
  std::string text;
  FinishReason finish = FinishReason::Length;
  int n_prompt = 0;
  int n_reused = 0;  // prompt tokens already in the cache (prefix reuse)
  double prefill_seconds = 0.0, decode_seconds = 0.0;
};

// A sequence bound to a cache slot; `tokens` mirrors what the slot holds, so a later
// prompt that extends it (a chat turn) only prefills the new part.
struct Sequence {
  int slot = 0;
  std::vector<TokenId> tokens;
};

using TextCallback = std::function<void(std::string_view)>;

// Throws concord::Error when the prompt does not fit the context (naming both sizes).
GenerationResult generate(Model& model, KvCache& cache, Sequence& sequence,
                          const Tokenizer& tokenizer, std::span<const TokenId> prompt,
                          const GenerationParams& params, const TextCallback& on_text = {});

}  // namespace concord
