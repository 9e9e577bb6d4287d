#include "backend/describe.h"

namespace concord {

nlohmann::json capabilities_json(const Capabilities& c) {
  nlohmann::json types = nlohmann::json::array(), kv = nlohmann::json::array(),
                 devices = nlohmann::json::array();
  for (GgmlType t : c.weight_types) types.push_back(type_name(t));
  for (KvType t : c.kv_types) kv.push_back(kv_type_name(t));
  for (const DeviceInfo& d : c.devices) {
    devices.push_back({{"name", d.name},
                       {"memory_total", d.memory_total},
                       {"memory_free", d.memory_free},
                       {"compute_units", d.compute_units},
                       {"detail", d.detail}});
  }
  return {{"weight_types", types},
          {"kv_types", kv},
          {"max_batch_tokens", c.max_batch_tokens},
          {"max_context", c.max_context},
          {"logprobs", c.logprobs},
          {"flash_attention", c.flash_attention},
          {"graphs", c.graphs},
          {"devices", devices}};
}

nlohmann::json provenance_json(const Provenance& p) {
  return {{"requested", p.requested},
          {"detected", p.detected},
          {"selected", p.selected},
          {"reason", p.reason},
          {"fallback", p.fallback}};
}

}  // namespace concord
