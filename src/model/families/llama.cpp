// Llama (and Mistral, whose GGUF files say "llama"): pre-norm blocks, SwiGLU, RoPE on
// adjacent pairs. A `llama.attention.sliding_window` key (Mistral 7B v0.1) makes every
// layer attend to that many positions.
#include "model/families.h"

namespace concord {

const Family kLlamaFamily = {"llama", [](ModelHparams&) {}, nullptr, nullptr};

}  // namespace concord
