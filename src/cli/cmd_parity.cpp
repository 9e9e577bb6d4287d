// `concord parity --ops [--backend B] [--op O] [--perf]`: the op harness.
// `concord parity -m MODEL --backends A,B [-n 128] [--prompts FILE] [--receipt FILE]`:
// model-level parity with a JSON receipt. "ref" names the scalar reference backend.
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

#include "backend/registry.h"
#include "backend/selection.h"
#include "cli/commands.h"
#include "model/model.h"
#include "parity/model_parity.h"
#include "parity/op_harness.h"
#include "util/error.h"
#include "util/mapped_file.h"
#include "util/sha256.h"

namespace concord::cli {
namespace {

std::string canonical_backend(const std::string& name) {
  return name == "ref" ? "cpu-ref" : name;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(canonical_backend(item));
  }
  return out;
}

int run_ops(const std::string& backend_name, const std::string& op, bool perf) {
  const auto& ops = parity::harness_ops();
  if (!op.empty() && std::find(ops.begin(), ops.end(), op) == ops.end()) {
    std::string list;
    for (const std::string& o : ops) list += (list.empty() ? "" : ", ") + o;
    fail("unknown op '{}' (ops: {})", op, list);
  }
  std::vector<std::string> names;
  if (backend_name.empty()) {
    for (const BackendEntry& e : backend_registry()) {
      if (!e.unavailable_reason()) names.push_back(e.name);
    }
  } else {
    names.push_back(canonical_backend(backend_name));
  }
  int failures = 0, total = 0;
  for (const std::string& name : names) {
    const std::unique_ptr<Backend> backend = create_backend(name);
    const auto checks = parity::run_op_harness(*backend, {op, perf, 1});
    fmt::print("{:<8} {:<12} {:<6} {:<36} {:>10} {:>9} {:>6}{}\n", "backend", "op", "type", "shape",
               "nmse", "limit", "status",
               perf ? fmt::format(" {:>9} {:>10}", "GB/s", "GFLOP/s") : "");
    for (const parity::OpCheck& c : checks) {
      ++total;
      failures += c.passed() ? 0 : 1;
      std::string status = c.passed() ? "ok" : "FAIL";
      if (!c.finite) status += " (NaN/Inf)";
      if (!c.guards_intact) status += " (guard)";
      std::string rates;
      if (perf && c.seconds > 0) {
        rates = fmt::format(" {:>9.2f} {:>10.2f}", c.bytes / c.seconds / 1e9,
                            c.flops / c.seconds / 1e9);
      }
      fmt::print("{:<8} {:<12} {:<6} {:<36} {:>10.3g} {:>9.1g} {:>6}{}\n", name, c.op, c.type,
                 c.shape, c.nmse, c.threshold, status, rates);
    }
  }
  fmt::print("{} passed, {} failed\n", total - failures, failures);
  return failures == 0 ? 0 : 1;
}

std::vector<std::string> read_prompts(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot open prompts file '{}'", path);
  std::vector<std::string> prompts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) prompts.push_back(line);
  }
  if (prompts.empty()) fail("prompts file '{}' has no prompts (one per line)", path);
  return prompts;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

nlohmann::json backend_json(const Backend& b) {
  nlohmann::json devices = nlohmann::json::array();
  for (const DeviceInfo& d : b.capabilities().devices)
    devices.push_back({{"name", d.name}, {"detail", d.detail}});
  return {{"name", b.name()}, {"devices", devices}};
}

int run_model(const std::string& model_path, const std::string& backends, int n,
              const std::string& prompts_file, const std::string& receipt_path) {
  const std::vector<std::string> names = split_commas(backends);
  if (names.size() != 2)
    fail("--backends takes two backends, the reference first (e.g. ref,cpu), got '{}'", backends);
  const gguf::File file = gguf::File::open(model_path);
  const auto prompts =
      prompts_file.empty() ? parity::default_parity_prompts() : read_prompts(prompts_file);
  const std::unique_ptr<Backend> a = create_backend(names[0]), b = create_backend(names[1]);
  const parity::ModelParityReport report = parity::compare_backends(file, *a, *b, prompts, n);

  for (const parity::PromptParity& r : report.prompts) {
    fmt::print(
        "{:<5} cosine {:.7f} (position {}), top-1 mismatches {} (+{} near-ties), generation {}: "
        "\"{}\"\n",
        r.passed ? "ok" : "FAIL", r.min_cosine, r.worst_position, r.top1_mismatches,
        r.top1_near_tie_mismatches,
        r.first_divergence < 0
            ? fmt::format("{} identical tokens", r.tokens_a.size())
            : fmt::format("diverges at token {} (top-2 margin {:.3g}{})", r.first_divergence,
                          r.divergence_margin, r.divergence_is_near_tie ? ", near-tie" : ""),
        r.prompt);
  }
  nlohmann::json receipt;
  receipt["concord_version"] = CONCORD_VERSION;
  receipt["created"] = utc_now();
  const auto bytes = MappedFile(model_path);
  std::vector<std::string> types;
  for (GgmlType t : model_needs(file, KvType::F32).weight_types) types.emplace_back(type_name(t));
  receipt["model"] = {{"path", model_path},
                      {"sha256", sha256_hex(bytes.bytes())},
                      {"bytes", bytes.bytes().size()},
                      {"architecture", file.get_string("general.architecture").value_or("")},
                      {"name", file.get_string("general.name").value_or("")},
                      {"weight_types", types}};
  receipt["backends"] = {{"reference", backend_json(*a)}, {"under_test", backend_json(*b)}};
  receipt["kernels"] = parity::harness_ops();
  nlohmann::json env = nlohmann::json::object();
  for (const char* var : {"CONCORD_BACKEND", "CONCORD_BACKEND_PRIORITY", "CONCORD_STRICT",
                          "CONCORD_NO_PDL", "CONCORD_CUDA_TENSOR_DECODE"}) {
    if (const char* v = std::getenv(var)) env[var] = v;
  }
  receipt["environment"] = env;
  receipt["generate_tokens"] = n;
  receipt["thresholds"] = {{"min_cosine", parity::ParityThresholds{}.min_cosine},
                           {"near_tie_relative_gap", parity::ParityThresholds{}.near_tie}};
  receipt["results"] = parity::to_json(report);
  receipt["passed"] = report.passed;
  std::ofstream out(receipt_path);
  if (!out) fail("cannot write receipt '{}'", receipt_path);
  out << receipt.dump(2) << "\n";
  fmt::print("{} passed, {} failed\nreceipt: {}\n",
             std::count_if(report.prompts.begin(), report.prompts.end(),
                           [](const auto& r) { return r.passed; }),
             std::count_if(report.prompts.begin(), report.prompts.end(),
                           [](const auto& r) { return !r.passed; }),
             receipt_path);
  return report.passed ? 0 : 1;
}

}  // namespace

void add_parity_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "parity", "Check backends against the reference: ops (--ops) or a model (-m)");
  struct Args {
    bool ops = false, perf = false;
    std::string backend, op, model, backends = "ref,cpu", prompts, receipt = "parity-receipt.json";
    int n = 128;
  };
  auto a = std::make_shared<Args>();
  cmd->add_flag("--ops", a->ops, "Run the op harness");
  cmd->add_option("--backend", a->backend,
                  "Op harness: one backend (default: every available one)");
  cmd->add_option("--op", a->op, "Op harness: one op");
  cmd->add_flag("--perf", a->perf, "Op harness: also print GB/s and GFLOP/s");
  cmd->add_option("-m,--model", a->model, "Model parity: the GGUF model");
  cmd->add_option("--backends", a->backends, "Model parity: reference,under-test")
      ->capture_default_str();
  cmd->add_option("-n", a->n, "Model parity: greedy tokens per prompt")->capture_default_str();
  cmd->add_option("--prompts", a->prompts, "Model parity: file with one prompt per line");
  cmd->add_option("--receipt", a->receipt, "Model parity: JSON receipt path")
      ->capture_default_str();
  cmd->callback([a] {
    if (a->ops == !a->model.empty()) fail("concord parity needs exactly one of --ops or -m MODEL");
    if (a->n < 1) fail("-n must be at least 1, got {}", a->n);
    const int status = a->ops ? run_ops(a->backend, a->op, a->perf)
                              : run_model(a->model, a->backends, a->n, a->prompts, a->receipt);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace concord::cli
