// `concord quantize IN OUT TYPE`: requantise a model's 2-D weights, keep 1-D tensors F32.
#include <fmt/format.h>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "quant/quant.h"
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

void quantize_file(const std::string& in_path, const std::string& out_path, GgmlType target) {
  const gguf::File in = gguf::File::open(in_path);
  gguf::Writer out;
  for (const auto& [key, value] : in.metadata()) out.set(key, value);
  out.set("general.file_type", static_cast<uint32_t>(target));
  for (const gguf::TensorInfo& t : in.tensors()) {
    const bool is_matrix = t.shape.size() == 2;
    const GgmlType type = is_matrix ? target : GgmlType::F32;
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
  cmd->add_option("type", args->type, "Target weight type (F32, F16, BF16, Q8_0, Q4_K, ...)")
      ->required();
  cmd->callback([args] {
    const GgmlType target = parse_type_name(args->type);
    quantize_file(args->in, args->out, target);
    fmt::print("wrote {} ({} weights)\n", args->out, type_name(target));
  });
}

}  // namespace concord::cli
