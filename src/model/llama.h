// The Llama architecture (Llama 2/3, TinyLlama, SmolLM, Mistral without sliding window,
// llama2.c "stories" models).
#pragma once

#include "model/llama_spec.h"
#include "model/model.h"

namespace concord {

std::unique_ptr<Model> load_llama(const gguf::File& file, Backend& backend);

}  // namespace concord
