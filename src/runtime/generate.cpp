#include "runtime/generate.h"

#include <algorithm>
#include <chrono>

#include "runtime/continuation.h"
#include "util/error.h"

namespace concord {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Forward one chunk of a single sequence at positions [first, first + n); logits for the
// last token only when `want_last` (a view valid until the next step).
std::span<const float> forward_chunk(Model& model, KvCache& cache, int slot,
                                     std::span<const TokenId> tokens, int64_t first,
                                     bool want_last) {
  Batch batch;
  for (size_t i = 0; i < tokens.size(); ++i) {
    batch.add(tokens[i], static_cast<int32_t>(first + static_cast<int64_t>(i)), slot,
              want_last && i + 1 == tokens.size());
  }
  return model.forward(batch, cache.layers());
}

}  // namespace

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Stop:
      return "stop";
    case FinishReason::Length:
      return "length";
    case FinishReason::Eos:
      return "eos";
  }
  return "unknown";
}

GenerationResult generate(Model& model, KvCache& cache, Sequence& seq, const Tokenizer& tokenizer,
                          std::span<const TokenId> prompt, const GenerationParams& params,
                          const TextCallback& on_text) {
  const int64_t n_ctx = cache.n_ctx();
  if (prompt.empty()) fail("the prompt is empty: nothing to condition the generation on");
  if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
    fail("the prompt has {} tokens but the context holds {}: shorten the prompt or raise --ctx",
         prompt.size(), n_ctx);
  }
  Continuation continuation(tokenizer, params, static_cast<int32_t>(model.info().n_vocab));
  GenerationResult result;
  result.n_prompt = static_cast<int>(prompt.size());

  // Reuse the cached prefix; keep at least the last prompt token to compute its logits.
  const size_t cached = std::min(seq.tokens.size(), static_cast<size_t>(cache.length(seq.slot)));
  size_t reuse = 0;
  while (reuse < cached && reuse + 1 < prompt.size() && seq.tokens[reuse] == prompt[reuse]) ++reuse;
  seq.tokens.assign(prompt.begin(), prompt.end());
  cache.set_length(seq.slot, static_cast<int64_t>(reuse));
  result.n_reused = static_cast<int>(reuse);

  std::span<const float> logits;
  const auto prefill_start = Clock::now();
  // Sliding-window rings hold at most step_tokens() new tokens per step.
  int64_t chunk_tokens = std::max(1, params.prefill_chunk);
  if (cache.step_tokens() > 0) chunk_tokens = std::min(chunk_tokens, cache.step_tokens());
  const size_t chunk = static_cast<size_t>(chunk_tokens);
  for (size_t start = reuse; start < prompt.size(); start += chunk) {
    const size_t end = std::min(prompt.size(), start + chunk);
    logits = forward_chunk(model, cache, seq.slot, prompt.subspan(start, end - start),
                           static_cast<int64_t>(start), end == prompt.size());
  }
  cache.set_length(seq.slot, static_cast<int64_t>(prompt.size()));
  result.prefill_seconds = seconds_since(prefill_start);

  auto emit = [&](const std::string& text) {
    if (text.empty()) return;
    result.text += text;
    if (on_text) on_text(text);
  };

  const auto decode_start = Clock::now();
  result.finish = FinishReason::Length;
  if (params.max_tokens == 0) emit(continuation.finish());
  for (int i = 0; i < params.max_tokens; ++i) {
    const Sample s = continuation.sample(logits, seq.tokens);
    const Continuation::Outcome outcome = continuation.accept(s);
    if (outcome.keep) {
      result.tokens.push_back(s.token);
      result.samples.push_back(s);
      seq.tokens.push_back(s.token);
    }
    emit(outcome.text);
    if (outcome.finish) {
      result.finish = *outcome.finish;
      break;
    }
    const int64_t position = static_cast<int64_t>(seq.tokens.size()) - 1;
    if (position + 1 >= n_ctx) {  // the context is full: finish with "length"
      emit(continuation.finish());
      break;
    }
    logits = forward_chunk(model, cache, seq.slot, std::span<const TokenId>(&s.token, 1), position,
                           true);
    cache.set_length(seq.slot, position + 1);
  }
  result.decode_seconds = seconds_since(decode_start);
  return result;
}

}  // namespace concord
