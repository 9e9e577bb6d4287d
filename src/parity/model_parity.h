// Model-level parity between two backends (DESIGN.md, "Parity contract"):
//  - forward level: full-vocabulary logits at every prompt position: cosine >= 0.9999 and
//    equal top-1, except documented near-ties (top-1/top-2 gap < 1e-3 * |top-1|);
//  - generation level: greedy decoding yields identical ids; a divergence names the
//    first position and the reference's top-2 margin there (a near-tie passes).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "gguf/gguf.h"

namespace concord::parity {

struct ParityThresholds {
  double min_cosine = 0.9999;
  double near_tie = 1e-3;  // relative top-1/top-2 gap under which top-1 may differ
};

struct PromptParity {
  std::string prompt;
  int n_prompt_tokens = 0;
  // Forward level (every prompt position).
  double min_cosine = 1.0;
  int worst_position = 0;
  int top1_mismatches = 0;  // outside near-ties
  int top1_near_tie_mismatches = 0;
  // Generation level.
  std::vector<int32_t> tokens_a, tokens_b;
  int first_divergence = -1;       // -1: identical
  double divergence_margin = 0.0;  // reference top-1 minus top-2 logit there
  bool divergence_is_near_tie = false;
  bool passed = false;
};

struct ModelParityReport {
  std::vector<PromptParity> prompts;
  bool passed = false;
};

// Runs the checks with `a` as the reference and `b` under test; models are loaded from
// `file` onto each backend.
ModelParityReport compare_backends(const gguf::File& file, Backend& a, Backend& b,
                                   const std::vector<std::string>& prompts, int n_generate,
                                   const ParityThresholds& thresholds = {});

// Default prompts for `concord parity` when none are given.
const std::vector<std::string>& default_parity_prompts();

nlohmann::json to_json(const ModelParityReport& report);

}  // namespace concord::parity
