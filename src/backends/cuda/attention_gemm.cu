// Prefill attention on tensor cores, for a batch that is one run of a slot's positions
// (first .. first + n - 1) in a global layer. Per KV head g, with the group's query heads
// folded into rows (row r = token * group + head within the group, so each KV head is one
// member of a strided GEMM batch):
//   S_g = scale * Q_g K_g^T        [rows, keys]  cuBLAS, fp32 accumulation
//   P_g = causal softmax rows of S_g (soft-capped first where asked)
//   O_g = P_g V_g                   [rows, head_dim]  cuBLAS
// K and V are read in place from the cache (fp16 inputs for an F16 cache, TF32 for F32);
// queries go through in chunks of tokens so that S and P stay within kScoreBytes.
#include "backends/cuda/kernels.cuh"

#include <algorithm>

#include "backends/cuda/dependent_launch.cuh"
#include "backends/cuda/warp.cuh"
#include "util/error.h"

namespace concord::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kScoreBytes = int64_t{256} << 20;  // S and P of one chunk at most

// The cache's element type, and how cuBLAS multiplies it.
template <typename T>
struct GemmType;
template <>
struct GemmType<__half> {
  static constexpr cudaDataType_t kData = CUDA_R_16F;
  static constexpr cublasComputeType_t kCompute = CUBLAS_COMPUTE_32F;
  __device__ static __half from(float v) { return to_half_saturated(v); }
};
template <>
struct GemmType<float> {
  static constexpr cudaDataType_t kData = CUDA_R_32F;
  static constexpr cublasComputeType_t kCompute = CUBLAS_COMPUTE_32F_FAST_TF32;
  __device__ static float from(float v) { return v; }
};

// Where row r of KV head g's block of a chunk stands: token t0 + r / group, query head
// g * group + r % group.
struct RowMap {
  int t0, group, rows, head_dim, q_width;
  __device__ int64_t q_offset(int64_t idx) const {  // idx over [n_kv][rows][head_dim]
    const int d = static_cast<int>(idx % head_dim);
    const int64_t gr = idx / head_dim;
    const int r = static_cast<int>(gr % rows), g = static_cast<int>(gr / rows);
    return static_cast<int64_t>(t0 + r / group) * q_width +
           static_cast<int64_t>(g * group + r % group) * head_dim + d;
  }
};

// qp[g][r][d] = q at row r of KV head g.
template <typename T>
__global__ void gather_queries_kernel(const float* __restrict__ q, T* __restrict__ qp, RowMap map,
                                      int64_t count) {
  await_previous_and_allow_next();
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < count) qp[idx] = GemmType<T>::from(q[map.q_offset(idx)]);
}

// out at row r of KV head g = o[g][r][d].
__global__ void scatter_outputs_kernel(const float* __restrict__ o, float* __restrict__ out,
                                       RowMap map, int64_t count) {
  await_previous_and_allow_next();
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < count) out[map.q_offset(idx)] = o[idx];
}

// One block per row of S [n_kv * rows, keys]: the token at position first + t0 + r / group
// sees keys 0 .. that position; p = exp(s - max) / sum over them, 0 beyond.
template <typename T>
__global__ void causal_softmax_kernel(const float* __restrict__ s, T* __restrict__ p, RowMap map,
                                      int first, int ld, float softcap) {
  await_previous_and_allow_next();
  __shared__ float partial[kThreads / kWarp];
  const int64_t row = blockIdx.x;
  const int r = static_cast<int>(row % map.rows);
  const int seen = first + map.t0 + r / map.group + 1;  // keys 0 .. seen - 1
  const float* sr = s + row * ld;
  T* pr = p + row * ld;
  auto score = [&](int j) {
    const float v = sr[j];
    return softcap > 0.0f ? softcap * tanhf(v / softcap) : v;
  };
  float m = -INFINITY;
  for (int j = threadIdx.x; j < seen; j += blockDim.x) m = fmaxf(m, score(j));
  m = block_reduce<true>(m, partial);
  float l = 0.0f;
  for (int j = threadIdx.x; j < seen; j += blockDim.x) l += __expf(score(j) - m);
  const float inv = 1.0f / block_reduce<false>(l, partial);
  for (int j = threadIdx.x; j < ld; j += blockDim.x) {  // P's padding columns too
    pr[j] = GemmType<T>::from(j < seen ? __expf(score(j) - m) * inv : 0.0f);
  }
}

// The workspace of a chunk of `tokens` query tokens over `keys` keys: S [n_kv][rows][ld]
// floats, P the same in the cache's type, Qp [n_kv][rows][head_dim] in it, O the same in
// floats (rows = tokens * group), each region 256-byte aligned; ld rounds keys up to 8
// for the tensor cores.
struct ChunkLayout {
  int64_t ld = 0, p = 0, qp = 0, o = 0, bytes = 0;  // byte offsets, total
  ChunkLayout(int tokens, int keys, const AttentionParams& a, size_t element) {
    auto align = [](int64_t b) { return (b + 255) / 256 * 256; };
    ld = (keys + 7) / 8 * 8;
    const int64_t rows = static_cast<int64_t>(tokens) * a.n_head;  // over all KV heads
    p = align(rows * ld * 4);
    qp = p + align(rows * ld * static_cast<int64_t>(element));
    o = qp + align(rows * a.head_dim * static_cast<int64_t>(element));
    bytes = o + align(rows * a.head_dim * 4);
  }
};

size_t element_size(KvType type) {
  return type == KvType::F16 ? 2 : 4;
}

// Query tokens per chunk: S and P within kScoreBytes.
int chunk_tokens(int first, int n, const AttentionParams& a, KvType type) {
  const int64_t per_token =
      static_cast<int64_t>(a.n_head) * (first + n + 7) * (4 + element_size(type));
  return static_cast<int>(std::clamp<int64_t>(kScoreBytes / per_token, 1, n));
}

template <typename T>
void attend_run(cublasHandle_t cublas, const KvLayer& c, const float* q, int slot, int first, int n,
                const AttentionParams& p, void* workspace, float* out, cudaStream_t stream) {
  const int group = p.n_head / p.n_head_kv, hd = p.head_dim;
  const int chunk = chunk_tokens(first, n, p, c.type);
  const int64_t slot_offset = static_cast<int64_t>(slot) * c.n_ctx * c.kv_width;
  const T* k = static_cast<const T*>(c.k) + slot_offset;
  const T* v = static_cast<const T*>(c.v) + slot_offset;
  const float one = 1.0f, zero = 0.0f;
  char* base = static_cast<char*>(workspace);
  for (int t0 = 0; t0 < n; t0 += chunk) {
    const int tokens = std::min(chunk, n - t0), rows = tokens * group;
    const int keys = first + t0 + tokens;
    const ChunkLayout at(tokens, keys, p, sizeof(T));
    const int ld = static_cast<int>(at.ld);
    const RowMap map{t0, group, rows, hd, p.n_head * hd};
    const int64_t values = static_cast<int64_t>(p.n_head_kv) * rows * hd;
    float* s = reinterpret_cast<float*>(base);
    T* pm = reinterpret_cast<T*>(base + at.p);
    T* qp = reinterpret_cast<T*>(base + at.qp);
    float* o = reinterpret_cast<float*>(base + at.o);
    check(launch_dependent(gather_queries_kernel<T>, blocks_for(values, kThreads), kThreads, 0,
                           stream, q, qp, map, values),
          "gather_queries");
    // Column-major view: S_g^T [keys, rows] = K_g [keys, hd] · Qp_g^T [hd, rows].
    check(cublasGemmStridedBatchedEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, keys, rows, hd, &p.scale, k,
                                     GemmType<T>::kData, static_cast<int>(c.kv_width), hd, qp,
                                     GemmType<T>::kData, hd, static_cast<int64_t>(rows) * hd, &zero,
                                     s, CUDA_R_32F, ld, static_cast<int64_t>(rows) * ld,
                                     p.n_head_kv, GemmType<T>::kCompute, CUBLAS_GEMM_DEFAULT),
          "attention scores");
    check(launch_dependent(causal_softmax_kernel<T>, static_cast<int>(p.n_head_kv * rows), kThreads,
                           0, stream, s, pm, map, first, ld, p.softcap),
          "causal_softmax");
    // O_g^T [hd, rows] = V_g^T [hd, keys] · P_g^T [keys, rows].
    check(cublasGemmStridedBatchedEx(cublas, CUBLAS_OP_N, CUBLAS_OP_N, hd, rows, keys, &one, v,
                                     GemmType<T>::kData, static_cast<int>(c.kv_width), hd, pm,
                                     GemmType<T>::kData, ld, static_cast<int64_t>(rows) * ld, &zero,
                                     o, CUDA_R_32F, hd, static_cast<int64_t>(rows) * hd,
                                     p.n_head_kv, GemmType<T>::kCompute, CUBLAS_GEMM_DEFAULT),
          "attention values");
    check(launch_dependent(scatter_outputs_kernel, blocks_for(values, kThreads), kThreads, 0,
                           stream, o, out, map, values),
          "scatter_outputs");
  }
}

}  // namespace

size_t prefill_attention_bytes(int first, int n, const AttentionParams& p, KvType type) {
  const int tokens = chunk_tokens(first, n, p, type);
  return static_cast<size_t>(ChunkLayout(tokens, first + n, p, element_size(type)).bytes);
}

void attention_prefill_run(cublasHandle_t cublas, const KvLayer& cache, const float* q, int slot,
                           int first, int n, const AttentionParams& p, void* workspace, float* out,
                           cudaStream_t stream) {
  if (cache.type == KvType::F16) {
    attend_run<__half>(cublas, cache, q, slot, first, n, p, workspace, out, stream);
  } else {
    attend_run<float>(cublas, cache, q, slot, first, n, p, workspace, out, stream);
  }
}

}  // namespace concord::cuda
