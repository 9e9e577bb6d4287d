// CUDA kernels of the backend ops (launchers callable from cuda_backend.cu). Every kernel
// mirrors an op of backends/cpu/reference_ops and is checked against it by the op harness.
#pragma once

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "backend/backend.h"

namespace concord::cuda {

// Matrix-vector products (matvec.cu) for n <= kMaxMatvecTokens token rows: fused
// dequantise + dot reading each weight byte once.
inline constexpr int kMaxMatvecTokens = 8;
// Single-token products of few rows and long inputs (the 1B shape's down projection: 128
// tiles of 16 rows on 264 resident blocks) split each tile's row pieces over several blocks,
// so that every resident block streams; the blocks publish their partial sums here and the
// last of a tile's parts to arrive adds them up in part order (deterministic) and stores.
// 1B tg128 on an H100: Q8_0 +5.6% (its O projection splits too), Q4_0 and Q4_K +0.5%.
struct MatvecScratch {
  float* partials = nullptr;     // matvec_partial_floats(max_blocks) floats
  unsigned* arrivals = nullptr;  // max_blocks counters, zero between launches
  int max_blocks = 0;            // blocks a launch may split over (0: never split)
};
int64_t matvec_partial_floats(int max_blocks);
// out[t] = W · x[t], or out[t] += W · x[t] when accumulating.
void matvec(const Weight& w, const float* x, float* out, int n, bool accumulate,
            const MatvecScratch& scratch, cudaStream_t stream);
// outs[i][t] = W_i · norm(x[t]) for up to 3 matrices of one type and width in one launch
// (norm: the identity without norm.weight); false (nothing launched) when they cannot
// share one.
bool matvec_many(const Weight* ws, float* const* outs, int count, const float* x, int n,
                 const InputNorm& norm, cudaStream_t stream);
// out[t] = act(Wgate · norm(x[t])) * (Wup · norm(x[t])) in one launch; false when the two
// matrices differ in type or shape.
bool matvec_gated(const Weight& gate, const Weight& up, const float* x, float* out, int n,
                  GatedActivation act, const InputNorm& norm, cudaStream_t stream);
// Batched matmuls multiply in fp16 on tensor cores (fp32 accumulation): rows [first,
// first + count) of W dequantised into fp16 [count, n_in], and n floats of activations as
// fp16. Both round to fp16's 11-bit significand (as TF32 would) and clamp at +-65504.
// Rounds to fp16, clamping magnitudes beyond its range (65504) instead of making infinities.
// NaN stays NaN (fmaxf alone would make it -65504 and hide it from the NaN checks).
__device__ __forceinline__ __half to_half_saturated(float v) {
  return __float2half_rn(isnan(v) ? v : fminf(fmaxf(v, -65504.0f), 65504.0f));
}
void dequantize_rows(const Weight& w, int64_t first, int64_t count, __half* out,
                     cudaStream_t stream);
void to_half(const float* x, __half* out, int64_t n, cudaStream_t stream);

void embed(const Weight& table, const BatchView& batch, float* out, cudaStream_t stream);
void rms_norm(const float* x, const float* weight, float* out, int n, int dim, float eps,
              cudaStream_t stream);
void rope(float* x, const BatchView& batch, int n_heads, int head_dim, const RopeParams& p,
          cudaStream_t stream);
void store_kv(const KvLayer& cache, const float* k, const float* v, const BatchView& batch,
              cudaStream_t stream);
// rope(q), rope(k) and store_kv(k, v) in one launch (head_dim even).
void rope_store_kv(float* q, float* k, const float* v, const KvLayer& cache, const BatchView& batch,
                   const AttentionParams& a, const RopeParams& p, cudaStream_t stream);
// Decode attention with fewer (token, head) pairs than SMs splits each pair's keys over
// several blocks (flash-decoding); they merge their partial softmaxes through this scratch,
// allocated once per backend so that captured graphs can use it.
struct AttentionScratch {
  float* partials = nullptr;     // attention_partial_floats(max_pairs) floats
  unsigned* arrivals = nullptr;  // max_pairs counters, zero between launches
  int max_pairs = 0;             // batches of fewer pairs split (the SM count; 0: never)
};
int64_t attention_partial_floats(int max_pairs);
// A single-token step's own key and value, unroped, for the decode attention kernel to rope
// and store itself: rope_store_kv and attention in one launch (q unroped too; q and k are
// left as they were).
struct OwnToken {
  const float* k = nullptr;  // [n_head_kv * head_dim]
  const float* v = nullptr;
  RopeParams rope;
};
void attention(const KvLayer& cache, const float* q, const BatchView& batch,
               const AttentionParams& p, const AttentionScratch& scratch, float* out,
               cudaStream_t stream, const OwnToken* own = nullptr);
// Prefill attention of a batch that is one run of a slot's positions first .. first + n - 1
// in a global layer, on tensor cores through cuBLAS (attention_gemm.cu); `workspace` holds
// prefill_attention_bytes(first, n, p, cache.type) bytes. Head sizes a multiple of 8.
size_t prefill_attention_bytes(int first, int n, const AttentionParams& p, KvType type);
void attention_prefill_run(cublasHandle_t cublas, const KvLayer& cache, const float* q, int slot,
                           int first, int n, const AttentionParams& p, void* workspace, float* out,
                           cudaStream_t stream);
void swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream);
void geglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream);
void add(const float* a, const float* b, float* out, int64_t n, cudaStream_t stream);
void add_bias(float* x, const float* bias, int n, int dim, cudaStream_t stream);
void scale(float* x, float factor, int64_t n, cudaStream_t stream);
void softcap(float* x, float cap, int64_t n, cudaStream_t stream);
void gather_rows(const float* x, const int32_t* rows, int n_rows, int dim, float* out,
                 cudaStream_t stream);

// Throws concord::Error naming the call and CUDA's message.
void check(cudaError_t status, const char* what);
void check(cublasStatus_t status, const char* what);

}  // namespace concord::cuda
