#include "backend/registry.h"

#include "backends/cpu/cpu_backend.h"
#include "util/error.h"

namespace concord {

const std::vector<std::string>& backend_names() {
  static const std::vector<std::string> names = {"auto", "cpu", "cpu-ref"};
  return names;
}

std::unique_ptr<Backend> create_backend(const std::string& name, const BackendOptions& options) {
  if (name == "cpu" || name == "auto") return std::make_unique<CpuBackend>(options.n_threads);
  if (name == "cpu-ref") return std::make_unique<CpuReferenceBackend>();
  std::string list;
  for (const std::string& n : backend_names()) list += (list.empty() ? "" : ", ") + n;
  fail("unknown backend '{}' (available: {})", name, list);
}

}  // namespace concord
