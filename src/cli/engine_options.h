// Options shared by the commands that run a model (run, chat, ...): which model, which
// backend, context and sampling - registered once, parsed into plain structs.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "backend/selection.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/engine.h"
#include "runtime/generate.h"
#include "runtime/kv_cache.h"
#include "tokenizer/tokenizer.h"

namespace concord::cli {

struct EngineOptions {
  std::string model_path;              // empty: the default model (cli/default_model.h)
  std::optional<std::string> backend;  // else CONCORD_BACKEND, else auto
  int threads = 0;
  int64_t ctx = 0;  // 0: the model's training context, at most kDefaultContext
  std::string kv_type = "f16";
  bool verbose = false;
};

struct SamplingOptions {
  int max_tokens = 128;
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
  bool ignore_eos = false;
  std::vector<std::string> stop;

  GenerationParams to_params() const;
};

void add_engine_options(CLI::App& cmd, EngineOptions& options);
void add_sampling_options(CLI::App& cmd, SamplingOptions& options);

// Loads the model (showing progress on stderr when it takes over a second); says which
// file it picked when -m was not given, and the backend when it fell back or -v.
struct LoadedEngine : Engine {
  double load_seconds = 0.0;
};
LoadedEngine load_engine(const EngineOptions& options, int n_slots = 1);

}  // namespace concord::cli
