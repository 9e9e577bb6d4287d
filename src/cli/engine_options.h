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
#include "runtime/generate.h"
#include "runtime/kv_cache.h"
#include "tokenizer/tokenizer.h"

namespace concord::cli {

// Context when --ctx is not given: the model's, up to this many tokens (KV memory grows
// with it; long-context models would otherwise reserve gigabytes).
inline constexpr int64_t kDefaultContext = 8192;

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

// A model loaded and ready to generate on one sequence slot.
struct Engine {
  std::string model_path;  // as given, or the default model's
  std::unique_ptr<gguf::File> file;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<KvCache> cache;
  Provenance provenance;
  double load_seconds = 0.0;
};

// Loads the model (showing progress on stderr when it takes over a second).
Engine load_engine(const EngineOptions& options, int n_slots = 1);

}  // namespace concord::cli
