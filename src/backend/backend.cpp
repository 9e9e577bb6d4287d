#include "backend/backend.h"

#include <algorithm>

namespace concord {

std::string_view kv_type_name(KvType type) {
  return type == KvType::F32 ? "f32" : "f16";
}

bool Capabilities::supports(GgmlType type) const {
  return std::find(weight_types.begin(), weight_types.end(), type) != weight_types.end();
}

bool Capabilities::supports(KvType type) const {
  return std::find(kv_types.begin(), kv_types.end(), type) != kv_types.end();
}

}  // namespace concord
