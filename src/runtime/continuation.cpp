#include "runtime/continuation.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace concord {
namespace {

SamplingParams effective_sampling(const GenerationParams& params, const Vocab& vocab) {
  SamplingParams sampling = params.sampling;
  if (params.ignore_eos) {
    for (TokenId id : {vocab.eos, vocab.eot}) {
      if (id >= 0) sampling.logit_bias.emplace_back(id, -INFINITY);
    }
  }
  return sampling;
}

bool contains(const std::vector<TokenId>& ids, TokenId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

Continuation::Continuation(const Tokenizer& tokenizer, const GenerationParams& params,
                           int32_t n_vocab)
    : sampler_(effective_sampling(params, tokenizer.vocab()), n_vocab),
      decoder_(tokenizer),
      stops_(params.stop),
      stop_tokens_(params.stop_tokens),
      max_tokens_(params.max_tokens) {
  if (params.max_tokens < 0) fail("max tokens {} must be >= 0", params.max_tokens);
  const Vocab& vocab = tokenizer.vocab();
  for (TokenId id : {vocab.eos, vocab.eot}) {
    if (id >= 0) end_tokens_.push_back(id);
  }
}

std::string Continuation::flush() {
  if (stops_.stopped()) return "";
  return stops_.push(decoder_.flush()) + stops_.flush();
}

std::string Continuation::finish() {
  return flush();
}

Continuation::Outcome Continuation::accept(const Sample& sample) {
  Outcome out;
  if (contains(end_tokens_, sample.token)) {
    out.finish = FinishReason::Eos;
    out.text = flush();
    return out;
  }
  if (contains(stop_tokens_, sample.token)) {
    out.finish = FinishReason::Stop;
    out.text = flush();
    return out;
  }
  out.keep = true;
  ++n_generated_;
  out.text = stops_.push(decoder_.push(sample.token));
  if (stops_.stopped()) {
    out.finish = FinishReason::Stop;
  } else if (n_generated_ >= max_tokens_) {
    out.finish = FinishReason::Length;
    out.text += flush();
  }
  return out;
}

}  // namespace concord
