#include "backend/backend.h"

#include <algorithm>
#include <cmath>

namespace concord {

double rope_inverse_frequency(int pair, const RopeParams& p) {
  return std::pow(static_cast<double>(p.freq_base), -2.0 * pair / p.n_rot);
}

std::string_view kv_type_name(KvType type) {
  return type == KvType::F32 ? "f32" : "f16";
}

bool Capabilities::supports(GgmlType type) const {
  return std::find(weight_types.begin(), weight_types.end(), type) != weight_types.end();
}

bool Capabilities::supports(KvType type) const {
  return std::find(kv_types.begin(), kv_types.end(), type) != kv_types.end();
}

namespace {
// norm(x): x itself, or its RMS-normalised rows written to norm.scratch.
const float* normalised(Backend& b, const float* x, int n, int64_t dim, const InputNorm& norm) {
  if (norm.weight == nullptr) return x;
  b.rms_norm(x, norm.weight, norm.scratch, n, static_cast<int>(dim), norm.eps);
  return norm.scratch;
}
}  // namespace

const void* Backend::read_back(const DeviceBuffer& buffer, size_t bytes,
                               std::vector<std::byte>& staging) {
  if (const void* host = buffer.host_view()) {
    synchronize();
    return host;
  }
  staging.resize(bytes);
  download(staging.data(), buffer.data(), bytes);
  synchronize();
  return staging.data();
}

void Backend::project(std::initializer_list<Projection> projections, const float* x, int n,
                      const InputNorm& norm) {
  if (projections.size() == 0) return;
  const float* input = normalised(*this, x, n, projections.begin()->w.n_in, norm);
  for (const Projection& p : projections) matmul(p.w, input, p.out, n);
}

void Backend::matmul_add(const Weight& w, const float* x, float* out, float* scratch, int n) {
  matmul(w, x, scratch, n);
  add(out, scratch, out, static_cast<int64_t>(n) * w.n_out);
}

void Backend::gated_matmul(const Weight& gate, const Weight& up, const float* x, float* out,
                           float* scratch, int n, GatedActivation act, const InputNorm& norm) {
  const float* input = normalised(*this, x, n, gate.n_in, norm);
  matmul(gate, input, out, n);
  matmul(up, input, scratch, n);
  const int64_t count = static_cast<int64_t>(n) * gate.n_out;
  if (act == GatedActivation::Silu) {
    swiglu(out, scratch, out, count);
  } else {
    geglu(out, scratch, out, count);
  }
}

void Backend::rope_store_kv(float* q, float* k, const float* v, const KvLayer& cache,
                            const BatchView& batch, const AttentionParams& a,
                            const RopeParams& rope) {
  this->rope(q, batch, a.n_head, a.head_dim, rope);
  this->rope(k, batch, a.n_head_kv, a.head_dim, rope);
  store_kv(cache, k, v, batch);
}

void Backend::rope_store_attention(float* q, float* k, const float* v, const KvLayer& cache,
                                   const BatchView& batch, const AttentionParams& a,
                                   const RopeParams& rope, float* out) {
  rope_store_kv(q, k, v, cache, batch, a, rope);
  attention(cache, q, batch, a, out);
}

}  // namespace concord
