// A model opened for generation: the file, the backend chosen for it (with provenance),
// the weights on that backend, the tokenizer and a KV cache of n_slots sequences. The CLI
// commands and the server's model hosts are built on it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "backend/selection.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "tokenizer/tokenizer.h"

namespace concord {

// Context when none is asked for: the model's, up to this many tokens (KV memory grows
// with it; long-context models would otherwise reserve gigabytes).
inline constexpr int64_t kDefaultContext = 8192;

struct EngineConfig {
  std::string model_path;              // empty: the default model (runtime/default_model.h)
  std::optional<std::string> backend;  // else CONCORD_BACKEND, else auto
  int threads = 0;
  int64_t ctx = 0;  // 0: the model's training context, at most kDefaultContext
  KvType kv_type = KvType::F16;
  int n_slots = 1;
};

struct Engine {
  std::string model_path;  // as given, or the default model's
  std::unique_ptr<gguf::File> file;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<KvCache> cache;
  Provenance provenance;
};

// Throws concord::Error naming the file, backend or limit at fault.
Engine open_engine(const EngineConfig& config);

// "f16" / "f32"; throws for anything else.
KvType parse_kv_type(const std::string& name);

}  // namespace concord
