// The decoder-only transformer every supported family runs on (see model/families.h).
#pragma once

#include <memory>

#include "model/model.h"

namespace concord {

std::unique_ptr<Model> load_decoder(const gguf::File& file, Backend& backend);

}  // namespace concord
