// The CUDA backend's entry points, callable from plain C++ (no CUDA headers here).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "backend/backend.h"

namespace concord {

// nullopt when a CUDA device can be used, else why not ("no CUDA device: ...").
std::optional<std::string> cuda_unavailable_reason();
// "runtime 13.0, driver 13.0"
std::string cuda_versions();
std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace concord
