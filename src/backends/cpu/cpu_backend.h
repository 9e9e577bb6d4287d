// The two CPU backends:
//  - "cpu-ref": every op is the scalar reference (the oracle; slow, exact to float64
//    accumulation). Forward-level parity tests run whole models on it.
//  - "cpu": the optimised path: matmul, embedding and attention run multi-threaded with
//    SIMD dot products; the cheap element-wise ops share the reference code.
#pragma once

#include <memory>

#include "backends/cpu/host_backend.h"
#include "util/thread_pool.h"

namespace concord {

class CpuReferenceBackend : public HostBackend {
 public:
  CpuReferenceBackend();
  std::string name() const override { return "cpu-ref"; }
  const Capabilities& capabilities() const override { return caps_; }

  void embed(const Weight& table, const BatchView& batch, float* out) override;
  void rms_norm(const float* x, const float* weight, float* out, int n, int dim,
                float eps) override;
  void matmul(const Weight& w, const float* x, float* out, int n) override;
  void rope(float* x, const BatchView& batch, int n_heads, int head_dim,
            const RopeParams& params) override;
  void store_kv(const KvLayer& cache, const float* k, const float* v,
                const BatchView& batch) override;
  void attention(const KvLayer& cache, const float* q, const BatchView& batch,
                 const AttentionParams& params, float* out) override;
  void swiglu(const float* gate, const float* up, float* out, int64_t n) override;
  void geglu(const float* gate, const float* up, float* out, int64_t n) override;
  void add(const float* a, const float* b, float* out, int64_t n) override;
  void add_bias(float* x, const float* bias, int n, int dim) override;
  void scale(float* x, float factor, int64_t n) override;
  void softcap(float* x, float cap, int64_t n) override;
  void gather_rows(const float* x, const int32_t* rows, int n_rows, int dim, float* out) override;

 private:
  Capabilities caps_;
};

class CpuBackend : public CpuReferenceBackend {
 public:
  explicit CpuBackend(int n_threads = 0);
  std::string name() const override { return "cpu"; }
  const Capabilities& capabilities() const override { return caps_; }
  int threads() const { return pool_->size(); }

  void embed(const Weight& table, const BatchView& batch, float* out) override;
  void matmul(const Weight& w, const float* x, float* out, int n) override;
  void attention(const KvLayer& cache, const float* q, const BatchView& batch,
                 const AttentionParams& params, float* out) override;

 private:
  Capabilities caps_;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace concord
