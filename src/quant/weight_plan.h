// Which type each weight matrix of a model is stored in: one type for every matrix, or one
// of the "medium" K-quant mixes that most published GGUF files use (Q4_K_M, Q5_K_M). A mix
// keeps the matrices whose errors cost the most quality in Q6_K: the output projection (the
// token embedding where the model ties them) and the value and down projections of about
// half the layers (the first and last eighth, and every third layer between). The rule is
// llama.cpp's, so that `concord quantize` and `concord synth` write files of the bytes and
// formats users' files hold, and benchmarks of them compare with llama-bench's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "quant/types.h"

namespace concord {

class WeightPlan {
 public:
  WeightPlan(GgmlType type) : base_(type) {}  // NOLINT(google-explicit-constructor): one type
  // "q8_0", "F16", "Q4_K_M", "q5_k_m" (case-insensitive); throws with the accepted names.
  static WeightPlan parse(std::string_view name);

  // The type of the 2-D tensor `tensor` (its GGUF name, "blk.3.attn_v.weight") of a model of
  // `n_layer` blocks; `tied`: the model has no output.weight of its own.
  GgmlType matrix_type(std::string_view tensor, int64_t n_layer, bool tied) const;
  // "Q4_K_M", or the single type's name.
  std::string name() const;
  // general.file_type as llama.cpp numbers it (llama_ftype: Q8_0 is 7, Q4_K_M 15).
  uint32_t file_type() const;
  GgmlType base() const { return base_; }
  bool mixed() const { return mixed_; }

 private:
  GgmlType base_;
  bool mixed_ = false;  // a _M mix over base_ (Q4_K or Q5_K)
};

}  // namespace concord
