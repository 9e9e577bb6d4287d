// Optimised CPU kernels: multi-threaded over output rows (matmul) or (token, head) pairs
// (attention), with SIMD dot products. Each is checked against backends/cpu/reference_ops.
#pragma once

#include "backend/backend.h"
#include "util/thread_pool.h"

namespace concord::cpu {

void embed(ThreadPool& pool, const Weight& table, const BatchView& batch, float* out);
void matmul(ThreadPool& pool, const Weight& w, const float* x, float* out, int n);
void attention(ThreadPool& pool, const KvLayer& cache, const float* q, const BatchView& batch,
               const AttentionParams& params, float* out);

// sum_i a[i] * b[i] in float32 with eight independent accumulators (vectorises cleanly).
float dot(const float* a, const float* b, int64_t n);

}  // namespace concord::cpu
