#include "backends/cpu/cpu_backend.h"

#include <fmt/format.h>

#include "backends/cpu/kernels.h"
#include "backends/cpu/reference_ops.h"

namespace concord {

CpuReferenceBackend::CpuReferenceBackend() : caps_(host_capabilities("scalar reference")) {}

void CpuReferenceBackend::embed(const Weight& table, const BatchView& batch, float* out) {
  reference::embed(table, batch, out);
}
void CpuReferenceBackend::rms_norm(const float* x, const float* weight, float* out, int n, int dim,
                                   float eps) {
  reference::rms_norm(x, weight, out, n, dim, eps);
}
void CpuReferenceBackend::matmul(const Weight& w, const float* x, float* out, int n) {
  reference::matmul(w, x, out, n);
}
void CpuReferenceBackend::rope(float* x, const BatchView& batch, int n_heads, int head_dim,
                               const RopeParams& params) {
  reference::rope(x, batch, n_heads, head_dim, params);
}
void CpuReferenceBackend::store_kv(const KvLayer& cache, const float* k, const float* v,
                                   const BatchView& batch) {
  reference::store_kv(cache, k, v, batch);
}
void CpuReferenceBackend::attention(const KvLayer& cache, const float* q, const BatchView& batch,
                                    const AttentionParams& params, float* out) {
  reference::attention(cache, q, batch, params, out);
}
void CpuReferenceBackend::swiglu(const float* gate, const float* up, float* out, int64_t n) {
  reference::swiglu(gate, up, out, n);
}
void CpuReferenceBackend::geglu(const float* gate, const float* up, float* out, int64_t n) {
  reference::geglu(gate, up, out, n);
}
void CpuReferenceBackend::add(const float* a, const float* b, float* out, int64_t n) {
  reference::add(a, b, out, n);
}
void CpuReferenceBackend::add_bias(float* x, const float* bias, int n, int dim) {
  reference::add_bias(x, bias, n, dim);
}
void CpuReferenceBackend::scale(float* x, float factor, int64_t n) {
  reference::scale(x, factor, n);
}
void CpuReferenceBackend::softcap(float* x, float cap, int64_t n) {
  reference::softcap(x, cap, n);
}
void CpuReferenceBackend::gather_rows(const float* x, const int32_t* rows, int n_rows, int dim,
                                      float* out) {
  reference::gather_rows(x, rows, n_rows, dim, out);
}

CpuBackend::CpuBackend(int n_threads) : pool_(std::make_unique<ThreadPool>(n_threads)) {
  caps_ = host_capabilities(fmt::format("{} kernels, {} threads", cpu_simd_level(), pool_->size()));
}

void CpuBackend::embed(const Weight& table, const BatchView& batch, float* out) {
  cpu::embed(*pool_, table, batch, out);
}
void CpuBackend::matmul(const Weight& w, const float* x, float* out, int n) {
  cpu::matmul(*pool_, w, x, out, n);
}
void CpuBackend::attention(const KvLayer& cache, const float* q, const BatchView& batch,
                           const AttentionParams& params, float* out) {
  cpu::attention(*pool_, cache, q, batch, params, out);
}

}  // namespace concord
