// `concord serve`: the OpenAI-compatible HTTP server. Each hosted model has its own
// backend, KV cache and continuous-batching scheduler; HTTP handler threads turn requests
// into scheduler work and stream back what it produces.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"

namespace concord::server {

struct ServeOptions {
  std::vector<std::pair<std::string, std::string>> models;  // (id, path); first = default
  std::string host = "127.0.0.1";
  int port = 8080;   // 0: any free port (printed on stdout)
  int parallel = 4;  // sequences per model (KV slots)
  int64_t ctx = 0;   // per sequence; 0: the model's, at most 8192
  std::optional<std::string> backend;
  int threads = 0;
  KvType kv_type = KvType::F16;
  std::string api_key;          // empty: no authentication
  std::string admin_key;        // empty: the api key
  std::string model_dir;        // admin loads resolve inside it; empty: admin loads refused
  int max_queue = 64;           // waiting requests per model before 503
  double drain_seconds = 30.0;  // on SIGTERM/SIGINT: time in-flight requests get to finish
};

// Serves until SIGTERM or SIGINT; returns the process exit code.
int serve(const ServeOptions& options);

}  // namespace concord::server
