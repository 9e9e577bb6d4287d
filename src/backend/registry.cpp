#include "backend/registry.h"

#include "backends/cpu/cpu_backend.h"
#include "util/error.h"

#ifdef CONCORD_WITH_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace concord {
namespace {

std::vector<BackendEntry> make_registry() {
  std::vector<BackendEntry> r;
#ifdef CONCORD_WITH_CUDA
  r.push_back({"cuda", "NVIDIA GPUs through CUDA", true, cuda_unavailable_reason,
               [](const BackendOptions& o) { return make_cuda_backend(o.device); }, cuda_versions});
#else
  r.push_back(
      {"cuda", "NVIDIA GPUs through CUDA", false,
       [] { return std::optional<std::string>("not compiled in (build with -DCONCORD_CUDA=ON)"); },
       nullptr, [] { return std::string(); }});
#endif
  r.push_back({"cpu", "optimised CPU kernels (threads, SIMD)", true,
               [] { return std::optional<std::string>(); },
               [](const BackendOptions& o) { return std::make_unique<CpuBackend>(o.n_threads); },
               [] { return std::string(); }});
  r.push_back({"cpu-ref", "scalar reference ops (the parity oracle; slow)", true,
               [] { return std::optional<std::string>(); },
               [](const BackendOptions&) { return std::make_unique<CpuReferenceBackend>(); },
               [] { return std::string(); }});
  return r;
}

}  // namespace

const std::vector<BackendEntry>& backend_registry() {
  static const std::vector<BackendEntry> registry = make_registry();
  return registry;
}

const BackendEntry* find_backend(const std::string& name) {
  for (const BackendEntry& e : backend_registry()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const std::vector<std::string>& backend_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out = {"auto"};
    for (const BackendEntry& e : backend_registry()) out.push_back(e.name);
    return out;
  }();
  return names;
}

std::unique_ptr<Backend> create_backend(const std::string& name, const BackendOptions& options) {
  const BackendEntry* e = find_backend(name == "auto" ? "cpu" : name);
  if (e == nullptr) {
    std::string list;
    for (const std::string& n : backend_names()) list += (list.empty() ? "" : ", ") + n;
    fail("unknown backend '{}' (available: {})", name, list);
  }
  if (const auto why = e->unavailable_reason())
    fail("backend '{}' cannot run here: {}", name, *why);
  return e->create(options);
}

}  // namespace concord
