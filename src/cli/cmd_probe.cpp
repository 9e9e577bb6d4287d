// `concord probe [--json]`: version and build, every backend (compiled in, available,
// versions, devices, capabilities, performance flags) and what `auto` would select.
// The JSON layout is documented by docs/probe.schema.json.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "backend/describe.h"
#include "backend/selection.h"
#include "cli/commands.h"

namespace concord::cli {
namespace {

std::string compiler() {
#if defined(__clang__)
  return fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  return fmt::format("gcc {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  return "unknown";
#endif
}

nlohmann::json probe_json() {
  nlohmann::json j;
  j["concord_version"] = CONCORD_VERSION;
  j["build"] = {{"compiler", compiler()},
#ifdef NDEBUG
                {"optimised", true},
#else
                {"optimised", false},
#endif
#ifdef CONCORD_WITH_CUDA
                {"cuda", true},
#else
                {"cuda", false},
#endif
                {"cxx_standard", static_cast<int64_t>(__cplusplus)}};
  nlohmann::json backends = nlohmann::json::array();
  for (const BackendEntry& e : backend_registry()) {
    nlohmann::json b = {
        {"name", e.name}, {"description", e.description}, {"compiled_in", e.compiled_in}};
    const auto why = e.unavailable_reason();
    b["available"] = !why.has_value();
    b["unavailable_reason"] = why ? nlohmann::json(*why) : nlohmann::json(nullptr);
    b["version"] = e.version ? e.version() : "";
    b["capabilities"] =
        why ? nlohmann::json(nullptr) : capabilities_json(e.create({})->capabilities());
    backends.push_back(b);
  }
  j["backends"] = backends;
  const Selection s = select_backend({std::nullopt, {{}, KvType::F16}, {}});
  j["auto"] = {{"selected", s.provenance.selected},
               {"reason", s.provenance.reason},
               {"provenance", s.provenance.to_string()}};
  return j;
}

void print_text(const nlohmann::json& j) {
  fmt::print("concord {} ({}, {})\n", j["concord_version"].get<std::string>(),
             j["build"]["compiler"].get<std::string>(),
             j["build"]["optimised"].get<bool>() ? "optimised" : "debug");
  for (const auto& b : j["backends"]) {
    fmt::print("\n{:<8} {}\n", b["name"].get<std::string>(), b["description"].get<std::string>());
    if (!b["available"].get<bool>()) {
      fmt::print("  unavailable: {}\n", b["unavailable_reason"].get<std::string>());
      continue;
    }
    const auto& c = b["capabilities"];
    if (!b["version"].get<std::string>().empty())
      fmt::print("  version: {}\n", b["version"].get<std::string>());
    for (const auto& d : c["devices"]) {
      fmt::print("  device: {} ({} units, {:.1f} GiB total, {:.1f} GiB free) {}\n",
                 d["name"].get<std::string>(), d["compute_units"].get<int>(),
                 d["memory_total"].get<double>() / (1 << 30),
                 d["memory_free"].get<double>() / (1 << 30), d["detail"].get<std::string>());
    }
    std::string types;
    for (const auto& t : c["weight_types"])
      types += (types.empty() ? "" : " ") + t.get<std::string>();
    fmt::print("  weights: {}\n  flash attention: {}, graphs: {}\n", types,
               c["flash_attention"].get<bool>() ? "yes" : "no",
               c["graphs"].get<bool>() ? "yes" : "no");
  }
  fmt::print("\nauto selects: {}\n", j["auto"]["provenance"].get<std::string>());
}

}  // namespace

void add_probe_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("probe", "Show build, backends, devices and what auto selects");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print JSON (schema: docs/probe.schema.json)");
  cmd->callback([json] {
    const nlohmann::json j = probe_json();
    if (*json) {
      fmt::print("{}\n", j.dump(2));
    } else {
      print_text(j);
    }
  });
}

}  // namespace concord::cli
