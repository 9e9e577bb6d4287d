#include "backend/selection.h"

#include <fmt/format.h>

#include <cstdlib>
#include <set>
#include <sstream>

#include "util/error.h"

namespace concord {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    const size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    if (a != std::string::npos) out.push_back(item.substr(a, b - a + 1));
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

void check_known(const std::string& name, const char* where) {
  if (name == "auto" || find_backend(name) != nullptr) return;
  fail("unknown backend '{}' in {} (available: {})", name, where, join(backend_names()));
}

// Why `backend` cannot run a model with these needs, or nullopt if it can.
std::optional<std::string> capability_gap(const Capabilities& caps, const ModelNeeds& needs) {
  for (GgmlType t : needs.weight_types) {
    if (!caps.supports(t)) return fmt::format("no {} weight support", type_name(t));
  }
  if (!caps.supports(needs.kv_type))
    return fmt::format("no {} KV cache", kv_type_name(needs.kv_type));
  return std::nullopt;
}

}  // namespace

ModelNeeds model_needs(const gguf::File& file, KvType kv_type) {
  std::set<GgmlType> types;
  for (const gguf::TensorInfo& t : file.tensors()) {
    if (t.shape.size() == 2) types.insert(t.type);
  }
  return {{types.begin(), types.end()}, kv_type};
}

std::string Provenance::to_string() const {
  return fmt::format("requested={} detected=[{}] selected={} reason={}", requested, join(detected),
                     selected, reason);
}

SelectionEnv SelectionEnv::from_environment() {
  SelectionEnv env;
  if (const char* v = std::getenv("CONCORD_BACKEND"); v && *v) env.backend = v;
  if (const char* v = std::getenv("CONCORD_BACKEND_PRIORITY"); v && *v) env.priority = v;
  if (const char* v = std::getenv("CONCORD_STRICT")) env.strict = std::string(v) == "1";
  return env;
}

Selection select_backend(const SelectionRequest& request) {
  return select_backend(request, SelectionEnv::from_environment());
}

Selection select_backend(const SelectionRequest& request, const SelectionEnv& env) {
  Provenance p;
  p.requested = request.flag.value_or(env.backend.value_or("auto"));
  check_known(p.requested, request.flag ? "--backend" : "CONCORD_BACKEND");
  std::vector<std::string> chain = split_list(env.priority.value_or("cuda,cpu"));
  for (const std::string& name : chain) {
    if (name == "auto") fail("CONCORD_BACKEND_PRIORITY lists backends, not 'auto'");
    check_known(name, "CONCORD_BACKEND_PRIORITY");
  }
  if (chain.empty()) fail("CONCORD_BACKEND_PRIORITY is empty");

  for (const BackendEntry& e : backend_registry()) {
    if (!e.unavailable_reason()) p.detected.push_back(e.name);
  }
  // Candidates: the explicit request first, then the chain (its fallbacks).
  std::vector<std::string> candidates;
  if (p.requested != "auto") candidates.push_back(p.requested);
  for (const std::string& name : chain) {
    if (std::find(candidates.begin(), candidates.end(), name) == candidates.end())
      candidates.push_back(name);
  }

  std::vector<std::string> skipped;
  for (const std::string& name : candidates) {
    const BackendEntry& e = *find_backend(name);
    if (const auto why = e.unavailable_reason()) {
      skipped.push_back(fmt::format("{}: {}", name, *why));
      continue;
    }
    std::unique_ptr<Backend> backend = e.create(request.options);
    if (const auto gap = capability_gap(backend->capabilities(), request.needs)) {
      skipped.push_back(fmt::format("{}: {}", name, *gap));
      continue;
    }
    p.selected = name;
    p.fallback = p.requested != "auto" && name != p.requested;
    if (p.fallback) {
      p.reason = fmt::format("fallback ({})", join(skipped));
      if (env.strict) {
        fail(
            "backend '{}' was requested but cannot run this model: {} (CONCORD_STRICT=1 forbids "
            "falling back to {})",
            p.requested, skipped.front(), name);
      }
    } else if (p.requested == "auto") {
      p.reason = skipped.empty() ? fmt::format("auto: first usable in priority {}", join(chain))
                                 : fmt::format("auto: first usable in priority {} ({})",
                                               join(chain), join(skipped));
    } else {
      p.reason = "requested";
    }
    return {std::move(backend), p};
  }
  fail("no backend can run this model: {}", join(skipped));
}

}  // namespace concord
