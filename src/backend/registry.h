// Creating backends by name. (Selection policy - priority chains, fallback, provenance -
// grows here, outside the backends.)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace concord {

struct BackendOptions {
  int n_threads = 0;  // CPU: 0 = one per hardware thread
};

// Names accepted by create_backend: "cpu", "cpu-ref", and "auto" (the best available).
const std::vector<std::string>& backend_names();
// Throws concord::Error naming the unknown backend and listing the known ones.
std::unique_ptr<Backend> create_backend(const std::string& name, const BackendOptions& options = {});

}  // namespace concord
