// What follows each sampled token of one sequence: the end-of-sequence and stop-token
// checks, the token budget, and the token's text streamed through the UTF-8 holdback and
// the stop strings. One per sequence; shared by generate() and the server's scheduler.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/generate.h"
#include "runtime/stop_matcher.h"

namespace concord {

class Continuation {
 public:
  Continuation(const Tokenizer& tokenizer, const GenerationParams& params, int32_t n_vocab);

  struct Outcome {
    bool keep = false;  // the token is part of the output (false for EOS and stop tokens)
    std::string text;   // text that became safe to show with this token
    std::optional<FinishReason> finish;  // set when the sequence ends here
  };
  // Samples the next token from `logits` (one row) given the sequence so far.
  Sample sample(std::span<const float> logits, std::span<const TokenId> history) {
    return sampler_.sample(logits, history);
  }
  Outcome accept(const Sample& sample);
  // Ends the sequence from outside (context full): the text still held back.
  std::string finish();
  int n_generated() const { return n_generated_; }

 private:
  std::string flush();

  Sampler sampler_;
  StreamDecoder decoder_;
  StopMatcher stops_;
  std::vector<TokenId> end_tokens_, stop_tokens_;
  int max_tokens_;
  int n_generated_ = 0;
};

}  // namespace concord
