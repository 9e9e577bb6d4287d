// `concord quantize IN OUT TYPE`: requantise a model's 2-D weights, keep 1-D tensors F32.
#include <fmt/format.h>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "quant/quant.h"
#include "quant/weight_plan.h"
#include "util/error.h"

namespace concord::cli {
namespace {

// Dequantise a whole tensor row by row into float32.
std::vector<float> tensor_to_f32(const gguf::TensorInfo& t) {
  if (!type_info(t.type).supported) {
    fail("tensor '{}' has type {}, which concord cannot read", t.name, type_name(t.type));
  }
  const int64_t row = t.shape[0];
  const size_t stride = row_bytes(t.type, row);
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  for (int64_t r = 0; r < t.n_rows(); ++r) {
    dequantize_row(t.type, t.data.data() + r * stride, out.data() + r * row, row);
  }
  return out;
}

// The model's block count (`<arch>.block_count`), which a mix's per-layer rule needs.
int64_t block_count(const gguf::File& in) {
  const std::string key = in.require_string("general.architecture") + ".block_count";
  const std::optional<int64_t> n = in.get_int(key);
  if (!n) fail("the model has no '{}': a mixed weight plan needs its layer count", key);
  return *n;
}

void quantize_file(const std::string& in_path, const std::string& out_path,
                   const WeightPlan& plan) {
  const gguf::File in = gguf::File::open(in_path);
  gguf::Writer out;
  for (const auto& [key, value] : in.metadata()) out.set(key, value);
  out.set("general.file_type", plan.file_type());
  const int64_t n_layer = plan.mixed() ? block_count(in) : 0;
  const bool tied = in.find_tensor("output.weight") == nullptr;
  for (const gguf::TensorInfo& t : in.tensors()) {
    const bool is_matrix = t.shape.size() == 2;
    const GgmlType type = is_matrix ? plan.matrix_type(t.name, n_layer, tied) : GgmlType::F32;
    if (t.shape[0] % type_info(type).block_size != 0) {
      fail("tensor '{}' {} has rows of {} elements, not a multiple of the {} block size {}", t.name,
           t.shape_string(), t.shape[0], type_name(type), type_info(type).block_size);
    }
    if (type == t.type) {
      out.add_tensor(t.name, t.type, t.shape, {t.data.begin(), t.data.end()});
    } else {
      out.add_tensor(t.name, type, t.shape, quantize(type, tensor_to_f32(t)));
    }
  }
  out.write_file(out_path);
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "Requantise the 2-D weights of a GGUF model");
  struct Args {
    std::string in, out, type;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("input", args->in, "Source GGUF model")->required();
  cmd->add_option("output", args->out, "Destination GGUF file")->required();
  cmd->add_option("type", args->type,
                  "Target weight type (F32, F16, BF16, Q8_0, Q4_K, ...) or mix (Q4_K_M, Q5_K_M)")
      ->required();
  cmd->callback([args] {
    const WeightPlan plan = WeightPlan::parse(args->type);
    quantize_file(args->in, args->out, plan);
    fmt::print("wrote {} ({} weights)\n", args->out, plan.name());
  });
}

}  // namespace concord::cli
