// Model families: what distinguishes Llama, Gemma and Qwen on top of the shared decoder
// (model/decoder.cpp). Each family lives in its own file under model/families/ and is
// listed once in model/families.cpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "model/hparams.h"

namespace concord {

struct Family {
  const char* arch;  // general.architecture
  // Switches on the family's fixed features (norms, activation, RoPE layout, windows).
  void (*configure)(ModelHparams& hp);
  // Family-specific metadata beyond the keys every family shares; null when none.
  void (*read)(const gguf::File& file, ModelHparams& hp);
  void (*write)(gguf::Writer& writer, const ModelHparams& hp);
};

const Family* find_family(std::string_view arch);  // null when unknown
const std::vector<std::string>& family_names();    // for errors, `probe` and `synth`

extern const Family kLlamaFamily;
extern const Family kGemmaFamily, kGemma2Family, kGemma3Family;
extern const Family kQwen2Family, kQwen3Family;

}  // namespace concord
