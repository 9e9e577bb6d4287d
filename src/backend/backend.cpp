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

void Backend::project(std::initializer_list<Projection> projections, const float* x, int n) {
  for (const Projection& p : projections) matmul(p.w, x, p.out, n);
}

void Backend::matmul_add(const Weight& w, const float* x, float* out, float* scratch, int n) {
  matmul(w, x, scratch, n);
  add(out, scratch, out, static_cast<int64_t>(n) * w.n_out);
}

void Backend::gated_matmul(const Weight& gate, const Weight& up, const float* x, float* out,
                           float* scratch, int n, GatedActivation act) {
  matmul(gate, x, out, n);
  matmul(up, x, scratch, n);
  const int64_t count = static_cast<int64_t>(n) * gate.n_out;
  if (act == GatedActivation::Silu) {
    swiglu(out, scratch, out, count);
  } else {
    geglu(out, scratch, out, count);
  }
}

}  // namespace concord
