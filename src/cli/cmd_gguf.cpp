// `concord gguf FILE [--json] [--full]`: metadata and tensor table of a GGUF file.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "gguf/gguf.h"

namespace concord::cli {
namespace {

constexpr size_t kArrayPreview = 8;

nlohmann::json to_json(const gguf::Value& v, bool full) {
  return std::visit(
      [full](const auto& x) -> nlohmann::json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, gguf::Array>) {
          nlohmann::json items = nlohmann::json::array();
          const size_t n = full ? x.items.size() : std::min(x.items.size(), kArrayPreview);
          for (size_t i = 0; i < n; ++i) items.push_back(to_json(x.items[i], full));
          return {{"element_type", gguf::value_type_name(x.element_type)},
                  {"length", x.items.size()},
                  {full ? "items" : "head", items}};
        } else {  // strings that are not valid UTF-8 are repaired when dumped
          return x;
        }
      },
      v.data);
}

std::string preview(const gguf::Value& v) {
  if (v.type() == gguf::ValueType::Array) {
    const auto& a = std::get<gguf::Array>(v.data);
    std::string s = fmt::format("[{} x {}]", a.items.size(), gguf::value_type_name(a.element_type));
    const size_t n = std::min<size_t>(a.items.size(), 4);
    for (size_t i = 0; i < n; ++i) s += (i ? ", " : " ") + preview(a.items[i]);
    return s + (a.items.size() > n ? ", ..." : "");
  }
  const nlohmann::json j = to_json(v, false);
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return s.size() > 120 ? s.substr(0, 117) + "..." : s;
}

void print_text(const gguf::File& f) {
  fmt::print("file: {}\nversion: {}\nalignment: {}\ndata offset: {}\nsize: {} bytes\n\n", f.label(),
             f.version(), f.alignment(), f.data_offset(), f.file_size());
  fmt::print("metadata ({} keys):\n", f.metadata().size());
  for (const auto& [key, value] : f.metadata()) {
    fmt::print("  {:<44} {:<8} {}\n", key, gguf::value_type_name(value.type()), preview(value));
  }
  fmt::print("\ntensors ({}):\n  {:<36} {:<8} {:<20} {:>12}\n", f.tensors().size(), "name", "type",
             "shape", "bytes");
  uint64_t total = 0;
  for (const gguf::TensorInfo& t : f.tensors()) {
    fmt::print("  {:<36} {:<8} {:<20} {:>12}\n", t.name, type_name(t.type), t.shape_string(),
               t.n_bytes);
    total += t.n_bytes;
  }
  fmt::print("  total tensor bytes: {}\n", total);
}

void print_json(const gguf::File& f, bool full) {
  nlohmann::json j;
  j["file"] = f.label();
  j["version"] = f.version();
  j["alignment"] = f.alignment();
  j["data_offset"] = f.data_offset();
  j["size"] = f.file_size();
  nlohmann::json metadata = nlohmann::json::object();
  for (const auto& [key, value] : f.metadata()) {
    metadata[key] = {{"type", gguf::value_type_name(value.type())},
                     {"value", to_json(value, full)}};
  }
  j["metadata"] = metadata;
  nlohmann::json tensors = nlohmann::json::array();
  for (const gguf::TensorInfo& t : f.tensors()) {
    tensors.push_back({{"name", t.name},
                       {"type", type_name(t.type)},
                       {"shape", t.shape},
                       {"offset", t.offset},
                       {"bytes", t.n_bytes}});
  }
  j["tensors"] = tensors;
  fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

void add_gguf_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("gguf", "Show a GGUF file's metadata and tensor table");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto full = std::make_shared<bool>(false);
  cmd->add_option("file", *path, "GGUF file")->required();
  cmd->add_flag("--json", *json, "Print JSON instead of text");
  cmd->add_flag("--full", *full, "Print arrays in full (JSON) instead of their first items");
  cmd->callback([=] {
    const gguf::File f = gguf::File::open(*path);
    if (*json) {
      print_json(f, *full);
    } else {
      print_text(f);
    }
  });
}

}  // namespace concord::cli
