// Synthetic models of any supported family (llama, gemma*, qwen*) with seeded random
// weights, the family's real tensor names and metadata, and a small generated
// SentencePiece-style vocabulary: every test and benchmark can run at any size, anywhere,
// without downloads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/writer.h"
#include "model/hparams.h"
#include "quant/types.h"
#include "quant/weight_plan.h"

namespace concord {

struct SynthOptions {
  ModelHparams hparams;                // start from family_defaults(arch) for a family's features
  WeightPlan weights = GgmlType::F32;  // for the 2-D weights (a type or a mix); norms stay F32
  uint64_t seed = 42;
  std::string name = "concord-synthetic";
};

// Smallest vocabulary the generated tokenizer needs: <unk>, <s>, </s> and 256 byte tokens.
inline constexpr int64_t kMinSynthVocab = 259;

// SentencePiece-style pieces: specials, byte fallbacks, then "▁", characters and merges.
struct SynthVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;  // 1 normal, 2 unknown, 3 control, 6 byte
};
SynthVocab make_synth_vocab(int64_t n_vocab);

// Builds the whole model in memory; throws concord::Error on inconsistent options (a
// weight type whose block size does not divide a row, a vocabulary that is too small).
gguf::Writer synthesize(const SynthOptions& options);

}  // namespace concord
