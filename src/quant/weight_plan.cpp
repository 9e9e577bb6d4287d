#include "quant/weight_plan.h"

#include <charconv>

#include "util/ascii.h"
#include "util/error.h"

namespace concord {
namespace {

// The block index of "blk.N.<rest>", or -1 for tensors outside the blocks.
int64_t layer_of(std::string_view tensor) {
  constexpr std::string_view kPrefix = "blk.";
  if (!tensor.starts_with(kPrefix)) return -1;
  const std::string_view rest = tensor.substr(kPrefix.size());
  int64_t layer = -1;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), layer);
  return error == std::errc{} && end != rest.data() && *end == '.' ? layer : -1;
}

// The layers whose value and down projections a mix keeps in Q6_K: the first and last
// eighth, and every third layer between them.
bool more_bits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

}  // namespace

WeightPlan WeightPlan::parse(std::string_view name) {
  const std::string wanted = ascii_upper(name);
  for (GgmlType base : {GgmlType::Q4_K, GgmlType::Q5_K}) {
    if (wanted == std::string(type_name(base)) + "_M") {
      WeightPlan plan(base);
      plan.mixed_ = true;
      return plan;
    }
  }
  try {
    return WeightPlan(parse_type_name(name));
  } catch (const Error& e) {
    fail("{}, or a mix: Q4_K_M, Q5_K_M", e.what());
  }
}

GgmlType WeightPlan::matrix_type(std::string_view tensor, int64_t n_layer, bool tied) const {
  if (!mixed_) return base_;
  const bool output = tensor == "output.weight" || (tied && tensor == "token_embd.weight");
  const bool sensitive = tensor.ends_with(".attn_v.weight") || tensor.ends_with(".ffn_down.weight");
  const int64_t layer = layer_of(tensor);
  if (output || (sensitive && layer >= 0 && more_bits(layer, n_layer))) return GgmlType::Q6_K;
  return base_;
}

std::string WeightPlan::name() const {
  return std::string(type_name(base_)) + (mixed_ ? "_M" : "");
}

uint32_t WeightPlan::file_type() const {
  switch (base_) {
    case GgmlType::F32:
      return 0;
    case GgmlType::F16:
      return 1;
    case GgmlType::Q4_0:
      return 2;
    case GgmlType::Q4_1:
      return 3;
    case GgmlType::Q8_0:
      return 7;
    case GgmlType::Q5_0:
      return 8;
    case GgmlType::Q5_1:
      return 9;
    case GgmlType::Q2_K:
      return 10;
    case GgmlType::Q3_K:
      return 11;  // Q3_K_S
    case GgmlType::Q4_K:
      return mixed_ ? 15 : 14;  // Q4_K_M, Q4_K_S
    case GgmlType::Q5_K:
      return mixed_ ? 17 : 16;  // Q5_K_M, Q5_K_S
    case GgmlType::Q6_K:
      return 18;
    case GgmlType::BF16:
      return 32;
    default:
      fail("no llama.cpp file type for {} weights", type_name(base_));
  }
}

}  // namespace concord
