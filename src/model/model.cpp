#include "model/model.h"

#include "model/llama.h"
#include "util/error.h"

namespace concord {
namespace {

struct Architecture {
  const char* name;
  std::unique_ptr<Model> (*load)(const gguf::File&, Backend&);
};
// The one table that maps general.architecture to its implementation.
constexpr Architecture kArchitectures[] = {
    {"llama", load_llama},
};

}  // namespace

const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Architecture& a : kArchitectures) out.emplace_back(a.name);
    return out;
  }();
  return names;
}

std::unique_ptr<Model> load_model(const gguf::File& file, Backend& backend) {
  const std::optional<std::string> arch = file.get_string("general.architecture");
  if (!arch) fail("{}: missing metadata key 'general.architecture'", file.label());
  for (const Architecture& a : kArchitectures) {
    if (*arch == a.name) return a.load(file, backend);
  }
  std::string list;
  for (const std::string& name : supported_architectures())
    list += (list.empty() ? "" : ", ") + name;
  fail("{}: unsupported architecture '{}' (supported: {})", file.label(), *arch, list);
}

}  // namespace concord
