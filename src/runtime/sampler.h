// Token sampling, once, in the control plane: every backend hands its logits here, so
// the same logits and seed give the same tokens on any backend.
//
// Stages, in order:
//   1. logit bias            (added to the raw logits; -inf bans a token)
//   2. penalties             over the last `penalty_last_n` tokens of the history:
//                            repetition (divide positive / multiply negative logits),
//                            frequency (minus count * f), presence (minus p if present)
//   -> log-probabilities for reporting are taken here (softmax of the penalised logits)
//   3. temperature <= 0      greedy: the highest logit (lowest id on ties); stop here
//   4. top-k                 keep the k highest (k <= 0: all)
//   5. top-p                 keep the smallest high-probability prefix with mass >= p
//   6. min-p                 keep tokens with p >= min_p * p_max
//   7. temperature           divide the surviving logits by T
//   8. draw                  from the renormalised distribution with the sequence's RNG
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "tokenizer/vocab.h"
#include "util/rng.h"

namespace concord {

struct SamplingParams {
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;  // 1: off
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int penalty_last_n = 64;
  std::vector<std::pair<TokenId, float>> logit_bias;
  uint64_t seed = 0;
  int n_top_logprobs = 0;  // alternatives to report per token (0: none)

  static SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    return p;
  }
  // Throws concord::Error naming the first out-of-range parameter.
  void validate(int32_t n_vocab) const;
};

struct TokenLogprob {
  TokenId token;
  float logprob;
};

struct Sample {
  TokenId token = -1;
  float logprob = 0.0f;           // of the chosen token, after stages 1-2
  std::vector<TokenLogprob> top;  // n_top_logprobs best alternatives, best first
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int32_t n_vocab);

  // `history`: the sequence so far (prompt and generated), for the penalties.
  Sample sample(std::span<const float> logits, std::span<const TokenId> history);

 private:
  SamplingParams params_;
  int32_t n_vocab_;
  Rng rng_;
  std::vector<float> work_;
  std::vector<TokenId> candidates_;
  std::vector<int32_t> counts_;
};

}  // namespace concord
