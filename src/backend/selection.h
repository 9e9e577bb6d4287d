// Backend selection policy - the one place that decides which backend runs a model:
// request (flag, else env CONCORD_BACKEND, else "auto"), priority chain
// (CONCORD_BACKEND_PRIORITY, default "cuda,cpu"), fallback along the chain when the
// requested backend is not compiled in, has no device, or lacks a capability the model
// needs, and strict mode (CONCORD_STRICT=1) that turns any fallback into an error.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/registry.h"
#include "gguf/gguf.h"

namespace concord {

// What a model needs from a backend.
struct ModelNeeds {
  std::vector<GgmlType> weight_types;  // of its 2-D weights
  KvType kv_type = KvType::F16;
};
ModelNeeds model_needs(const gguf::File& file, KvType kv_type);

struct SelectionRequest {
  std::optional<std::string> flag;  // --backend, when given
  ModelNeeds needs;
  BackendOptions options;
};

// requested=cuda detected=[cpu] selected=cpu reason=cuda: not compiled in
struct Provenance {
  std::string requested;
  std::vector<std::string> detected;  // usable on this machine
  std::string selected;
  std::string reason;     // why `selected` (and why others were skipped)
  bool fallback = false;  // selected differs from an explicit request
  std::string to_string() const;
};

struct Selection {
  std::unique_ptr<Backend> backend;
  Provenance provenance;
};

// Reads CONCORD_BACKEND, CONCORD_BACKEND_PRIORITY and CONCORD_STRICT from the
// environment. Throws concord::Error for unknown names, when nothing can run the model,
// or on a fallback under strict mode - each stating the reason.
Selection select_backend(const SelectionRequest& request);

// The same, with the environment given explicitly (tests).
struct SelectionEnv {
  std::optional<std::string> backend, priority;
  bool strict = false;
  static SelectionEnv from_environment();
};
Selection select_backend(const SelectionRequest& request, const SelectionEnv& env);

}  // namespace concord
