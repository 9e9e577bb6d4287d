#include "runtime/engine.h"

#include <algorithm>

#include "runtime/default_model.h"
#include "util/error.h"

namespace concord {

KvType parse_kv_type(const std::string& name) {
  if (name == "f16") return KvType::F16;
  if (name == "f32") return KvType::F32;
  fail("KV cache type must be f16 or f32, got '{}'", name);
}

Engine open_engine(const EngineConfig& config) {
  Engine e;
  e.model_path = config.model_path.empty() ? default_model_path() : config.model_path;
  e.file = std::make_unique<gguf::File>(gguf::File::open(e.model_path));
  Selection selection =
      select_backend({config.backend, model_needs(*e.file, config.kv_type), {config.threads, 0}});
  e.backend = std::move(selection.backend);
  e.provenance = selection.provenance;
  e.model = load_model(*e.file, *e.backend);
  e.tokenizer = std::make_unique<Tokenizer>(Tokenizer::from_gguf(*e.file));
  const int64_t ctx =
      config.ctx > 0 ? config.ctx : std::min(e.model->info().n_ctx_train, kDefaultContext);
  e.cache =
      std::make_unique<KvCache>(*e.backend, e.model->info(), config.n_slots, ctx, config.kv_type);
  return e;
}

}  // namespace concord
