#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "util/error.h"

namespace concord {

void SamplingParams::validate(int32_t n_vocab) const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
    fail("temperature {} must be a finite number >= 0", temperature);
  }
  if (!(top_p > 0.0f && top_p <= 1.0f)) fail("top_p {} must be in (0, 1]", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f)) fail("min_p {} must be in [0, 1]", min_p);
  if (!(repeat_penalty > 0.0f) || !std::isfinite(repeat_penalty)) {
    fail("repeat penalty {} must be a finite number > 0", repeat_penalty);
  }
  if (!std::isfinite(presence_penalty) || !std::isfinite(frequency_penalty)) {
    fail("presence and frequency penalties must be finite");
  }
  if (penalty_last_n < 0) fail("penalty window {} must be >= 0", penalty_last_n);
  if (n_top_logprobs < 0 || n_top_logprobs > n_vocab) {
    fail("top logprobs {} must be in [0, {}]", n_top_logprobs, n_vocab);
  }
  for (const auto& [token, bias] : logit_bias) {
    if (token < 0 || token >= n_vocab) {
      fail("logit bias token {} is outside the vocabulary (0..{})", token, n_vocab - 1);
    }
    if (std::isnan(bias) || bias == INFINITY)
      fail("logit bias for token {} must be a number or -inf", token);
  }
}

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
  params_.validate(n_vocab);
}

namespace {

// probs[i] = softmax(logits[ids] / temperature)[i], in the order of ids.
void softmax(const std::vector<float>& logits, const std::vector<TokenId>& ids,
             std::vector<double>& probs, double temperature = 1.0) {
  probs.resize(ids.size());
  float max_logit = -INFINITY;
  for (TokenId id : ids) max_logit = std::max(max_logit, logits[static_cast<size_t>(id)]);
  double total = 0.0;
  for (size_t i = 0; i < ids.size(); ++i) {
    probs[i] = std::exp((static_cast<double>(logits[static_cast<size_t>(ids[i])]) - max_logit) /
                        temperature);
    total += probs[i];
  }
  for (double& p : probs) p /= total;
}

}  // namespace

Sample Sampler::sample(std::span<const float> logits, std::span<const TokenId> history) {
  if (logits.size() != static_cast<size_t>(n_vocab_)) {
    fail("sampler got {} logits for a vocabulary of {}", logits.size(), n_vocab_);
  }
  std::vector<float>& z = work_;
  z.assign(logits.begin(), logits.end());

  // 1. Logit bias.
  for (const auto& [token, bias] : params_.logit_bias) z[static_cast<size_t>(token)] += bias;

  // 2. Penalties over the recent history.
  const size_t window = std::min(history.size(), static_cast<size_t>(params_.penalty_last_n));
  if (window > 0 && (params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                     params_.frequency_penalty != 0.0f)) {
    counts_.assign(static_cast<size_t>(n_vocab_), 0);
    for (size_t i = history.size() - window; i < history.size(); ++i) {
      if (history[i] >= 0 && history[i] < n_vocab_) ++counts_[static_cast<size_t>(history[i])];
    }
    for (int32_t id = 0; id < n_vocab_; ++id) {
      const int32_t c = counts_[static_cast<size_t>(id)];
      if (c == 0) continue;
      float& v = z[static_cast<size_t>(id)];
      v = v > 0.0f ? v / params_.repeat_penalty : v * params_.repeat_penalty;
      v -= static_cast<float>(c) * params_.frequency_penalty + params_.presence_penalty;
    }
  }

  // Reported log-probabilities: log-softmax of the penalised logits.
  float max_z = -INFINITY;
  for (float v : z) max_z = std::max(max_z, v);
  if (max_z == -INFINITY) fail("every token is banned (all logits are -inf after the logit bias)");
  double sum = 0.0;
  for (float v : z) sum += std::exp(static_cast<double>(v) - max_z);
  const double log_total = max_z + std::log(sum);
  auto logprob = [&](TokenId id) {
    return static_cast<float>(z[static_cast<size_t>(id)] - log_total);
  };

  candidates_.resize(static_cast<size_t>(n_vocab_));
  std::iota(candidates_.begin(), candidates_.end(), 0);
  auto by_logit = [&z](TokenId a, TokenId b) {
    const float za = z[static_cast<size_t>(a)], zb = z[static_cast<size_t>(b)];
    return za > zb || (za == zb && a < b);
  };

  Sample out;
  if (params_.n_top_logprobs > 0) {
    std::partial_sort(candidates_.begin(), candidates_.begin() + params_.n_top_logprobs,
                      candidates_.end(), by_logit);
    for (int i = 0; i < params_.n_top_logprobs; ++i) {
      out.top.push_back(
          {candidates_[static_cast<size_t>(i)], logprob(candidates_[static_cast<size_t>(i)])});
    }
  }

  // 3. Greedy.
  if (params_.temperature <= 0.0f) {
    out.token = *std::min_element(candidates_.begin(), candidates_.end(), by_logit);
    out.logprob = logprob(out.token);
    return out;
  }

  // Candidates are kept sorted best-first from here on.
  std::vector<TokenId>& c = candidates_;
  c.erase(std::remove_if(c.begin(), c.end(),
                         [&z](TokenId id) { return z[static_cast<size_t>(id)] == -INFINITY; }),
          c.end());
  // 4. Top-k.
  const size_t k =
      params_.top_k > 0 ? std::min(c.size(), static_cast<size_t>(params_.top_k)) : c.size();
  std::partial_sort(c.begin(), c.begin() + static_cast<long>(k), c.end(), by_logit);
  c.resize(k);
  std::vector<double> probs;
  softmax(z, c, probs);
  // 5. Top-p: smallest prefix whose mass reaches p.
  if (params_.top_p < 1.0f) {
    double mass = 0.0;
    size_t keep = 0;
    while (keep < c.size() && mass < params_.top_p) mass += probs[keep++];
    c.resize(std::max<size_t>(keep, 1));
    softmax(z, c, probs);
  }
  // 6. Min-p relative to the most likely survivor.
  if (params_.min_p > 0.0f) {
    const double threshold = params_.min_p * probs[0];
    size_t keep = 1;
    while (keep < c.size() && probs[keep] >= threshold) ++keep;
    c.resize(keep);
  }
  // 7. Temperature, 8. draw.
  softmax(z, c, probs, params_.temperature);
  const double u = rng_.uniform();
  double cumulative = 0.0;
  out.token = c.back();
  for (size_t i = 0; i < c.size(); ++i) {
    cumulative += probs[i];
    if (u < cumulative) {
      out.token = c[i];
      break;
    }
  }
  out.logprob = logprob(out.token);  // of the penalised, untruncated distribution
  return out;
}

}  // namespace concord
