// JSON descriptions of what a backend is and can do, shared by `probe` and the server.
#pragma once

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "backend/selection.h"

namespace concord {

nlohmann::json capabilities_json(const Capabilities& capabilities);
// {"requested", "detected", "selected", "reason", "fallback"}
nlohmann::json provenance_json(const Provenance& provenance);

}  // namespace concord
