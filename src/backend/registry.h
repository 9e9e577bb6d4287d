// The backends concord knows: whether each is compiled in, whether it can run here
// (devices), and how to create it. Policy (which one to use) lives in selection.h.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace concord {

struct BackendOptions {
  int n_threads = 0;  // CPU: 0 = one per hardware thread
  int device = 0;     // GPU index
};

struct BackendEntry {
  std::string name;
  std::string description;
  bool compiled_in = false;
  // nullopt when usable here, else why not ("no CUDA device", "not compiled in").
  std::function<std::optional<std::string>()> unavailable_reason;
  std::function<std::unique_ptr<Backend>(const BackendOptions&)> create;
  std::function<std::string()> version;  // runtime/driver versions, empty if none
};

// Every known backend, native first: cuda, cpu, cpu-ref.
const std::vector<BackendEntry>& backend_registry();
const BackendEntry* find_backend(const std::string& name);

// Names accepted by --backend / CONCORD_BACKEND: "auto" plus every registered backend.
const std::vector<std::string>& backend_names();
// Creates a named backend directly (no policy); throws naming unknown/unusable ones.
std::unique_ptr<Backend> create_backend(const std::string& name,
                                        const BackendOptions& options = {});

}  // namespace concord
