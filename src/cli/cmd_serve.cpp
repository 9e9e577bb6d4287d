// `concord serve [-m MODEL | -m id=PATH ...] [--host H] [--port P] [--parallel N] [--ctx N]
// [--api-key KEY | --api-key-file F] [--admin-key KEY] [--model-dir DIR] [--backend B]`:
// the OpenAI-compatible HTTP server (server/http_server.h).
#include <fmt/format.h>

#include <fstream>

#include "cli/commands.h"
#include "runtime/engine.h"
#include "server/http_server.h"
#include "util/error.h"

namespace concord::cli {
namespace {

std::string read_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot read the API key file {}", path);
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) fail("the API key file {} is empty", path);
  return key;
}

// "id=path" or a bare path (its id: the file name without .gguf).
std::pair<std::string, std::string> model_entry(const std::string& spec) {
  const size_t eq = spec.find('=');
  if (eq != std::string::npos && eq > 0) return {spec.substr(0, eq), spec.substr(eq + 1)};
  std::string id = spec.substr(spec.find_last_of('/') + 1);
  if (id.size() > 5 && id.ends_with(".gguf")) id.resize(id.size() - 5);
  return {id, spec};
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server");
  struct Args {
    server::ServeOptions options;
    std::vector<std::string> models;
    std::string backend, kv_type = "f16", key_file;
  };
  auto a = std::make_shared<Args>();
  server::ServeOptions& o = a->options;
  cmd->add_option("-m,--model", a->models,
                  "Model: PATH or ID=PATH, repeatable; the first is the default (default: the "
                  "installed Gemma 3 270M)");
  cmd->add_option("--host", o.host, "Address to bind")->capture_default_str();
  cmd->add_option("--port", o.port, "Port (0: any free port)")->capture_default_str();
  cmd->add_option("--parallel", o.parallel, "Sequences in flight per model")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("-c,--ctx", o.ctx, "Context per sequence (0: the model's, at most 8192)")
      ->capture_default_str();
  cmd->add_option("--backend", a->backend, "Compute backend: auto, cuda, cpu, cpu-ref");
  cmd->add_option("-t,--threads", o.threads, "CPU threads (0: all)")->capture_default_str();
  cmd->add_option("--kv-type", a->kv_type, "KV cache storage: f16 or f32")->capture_default_str();
  auto* key = cmd->add_option("--api-key", o.api_key, "Require this bearer key on /v1/*");
  cmd->add_option("--api-key-file", a->key_file, "Read the API key from a file")->excludes(key);
  cmd->add_option("--admin-key", o.admin_key, "Key for /v1/admin/* (default: the API key)");
  cmd->add_option("--model-dir", o.model_dir, "Directory admin loads may read models from");
  cmd->add_option("--max-queue", o.max_queue, "Waiting requests per model before 503")
      ->capture_default_str();
  cmd->add_option("--drain-seconds", o.drain_seconds, "Time in-flight requests get on SIGTERM")
      ->capture_default_str();
  cmd->callback([a] {
    server::ServeOptions o = a->options;
    if (!a->backend.empty()) o.backend = a->backend;
    o.kv_type = parse_kv_type(a->kv_type);
    if (!a->key_file.empty()) o.api_key = read_key_file(a->key_file);
    if (a->models.empty()) a->models.push_back("");  // the default model
    for (const std::string& spec : a->models) {
      auto entry =
          spec.empty() ? std::pair<std::string, std::string>{"default", ""} : model_entry(spec);
      for (const auto& [id, path] : o.models) {
        if (id == entry.first) fail("two models share the id '{}': name them with ID=PATH", id);
      }
      o.models.push_back(std::move(entry));
    }
    const int code = server::serve(o);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace concord::cli
