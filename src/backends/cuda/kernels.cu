#include "backends/cuda/kernels.cuh"

#include <cuda_fp16.h>

#include <algorithm>
#include <cstdlib>

#include "backends/cuda/activation.cuh"
#include "backends/cuda/decode_group.cuh"
#include "backends/cuda/dependent_launch.cuh"
#include "backends/cuda/kv_access.cuh"
#include "backends/cuda/rope.cuh"
#include "backends/cuda/warp.cuh"
#include "quant/decode.h"
#include "quant/types.h"
#include "util/error.h"

namespace concord::cuda {
namespace {

// --- matmul ----------------------------------------------------------------------------------

template <typename Block, int BS>
__global__ void dequantize_rows_kernel(const Block* __restrict__ w, int64_t n_in, int64_t first,
                                       int64_t count, __half* __restrict__ out) {
  await_previous_and_allow_next();
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= count * n_in) return;
  const int64_t e = (first * n_in) + idx;  // element index in the whole matrix
  out[idx] = to_half_saturated(decode::element(w[e / BS], static_cast<int>(e % BS)));
}

// Eight elements per thread through the matrix-vector kernels' group decoders, stored as
// one 16-byte write (rows of a multiple of 8 elements).
template <typename Block, int BS>
__global__ void dequantize_groups_kernel(const Block* __restrict__ w, int64_t n_in, int64_t first,
                                         int64_t count, __half* __restrict__ out) {
  await_previous_and_allow_next();
  using Decoder = GroupDecoder<Block, BS>;
  const int64_t group = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (group >= count * n_in / 8) return;
  float v[8];
  const decode::Affine affine = Decoder::decode(w, first * n_in + 8 * group, v);
  __align__(16) __half h[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    h[j] = to_half_saturated(Decoder::kAffine ? fmaf(affine.scale, v[j], affine.offset) : v[j]);
  }
  reinterpret_cast<uint4*>(out)[group] = *reinterpret_cast<const uint4*>(h);
}

__global__ void to_half_kernel(const float* __restrict__ x, __half* __restrict__ out, int64_t n) {
  await_previous_and_allow_next();
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < n) out[idx] = to_half_saturated(x[idx]);
}

template <typename Block, int BS>
__global__ void embed_kernel(const Block* __restrict__ table, int64_t n_in,
                             const int32_t* __restrict__ tokens, int n, float* __restrict__ out) {
  await_previous_and_allow_next();
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= n * n_in) return;
  const int64_t t = idx / n_in, i = idx % n_in;
  const int64_t e = static_cast<int64_t>(tokens[t]) * n_in + i;
  out[idx] = decode::element(table[e / BS], static_cast<int>(e % BS));
}

// --- normalisation, rotation, element-wise ------------------------------------------------

constexpr int kNormThreads = 256;

__global__ void rms_norm_kernel(const float* __restrict__ x, const float* __restrict__ weight,
                                float* __restrict__ out, int dim, float eps) {
  await_previous_and_allow_next();
  __shared__ float partial[kNormThreads / kWarp];
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * dim;
  float sum = 0.0f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) sum += xr[i] * xr[i];
  const float inv_rms = rsqrtf(block_reduce<false>(sum, partial) / dim + eps);
  float* yr = out + static_cast<int64_t>(blockIdx.x) * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * inv_rms * weight[i];
}

// One thread per rotated pair.
__global__ void rope_kernel(float* __restrict__ x, const int32_t* __restrict__ positions, int n,
                            int n_heads, int head_dim, RopeParams p, InverseFrequencies f) {
  await_previous_and_allow_next();
  const int half = p.n_rot / 2;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<int64_t>(n) * n_heads * half) return;
  const int64_t th = idx / half;  // token * n_heads + head
  rotate(x + th * head_dim,
         pair_rotation(static_cast<int>(idx % half), positions[th / n_heads], p, f));
}

__global__ void store_kv_kernel(KvLayer c, const float* __restrict__ k, const float* __restrict__ v,
                                const int32_t* __restrict__ slots,
                                const int32_t* __restrict__ positions, int n) {
  await_previous_and_allow_next();
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= n * c.kv_width) return;
  const int64_t t = idx / c.kv_width, i = idx % c.kv_width;
  const int64_t dst =
      (static_cast<int64_t>(slots[t]) * c.n_ctx + positions[t] % c.n_ctx) * c.kv_width + i;
  store_kv_value(c.k, c.type, dst, k[idx]);
  store_kv_value(c.v, c.type, dst, v[idx]);
}

// Rope on q and k and the store of k and v in one launch: one thread per pair of dims of
// every q and k head (the pairs of rotated dims, then the unrotated dims two by two);
// threads of k heads also copy their two dims of k and v into the cache.
__global__ void rope_store_kv_kernel(float* __restrict__ q, float* __restrict__ k,
                                     const float* __restrict__ v, KvLayer c,
                                     const int32_t* __restrict__ slots,
                                     const int32_t* __restrict__ positions, int n, int n_head,
                                     int n_head_kv, int head_dim, RopeParams p,
                                     InverseFrequencies f) {
  await_previous_and_allow_next();
  const int pairs = head_dim / 2, heads = n_head + n_head_kv;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<int64_t>(n) * heads * pairs) return;
  const int i = static_cast<int>(idx % pairs);
  const int h = static_cast<int>(idx / pairs % heads);
  const int t = static_cast<int>(idx / pairs / heads);
  const bool is_key = h >= n_head;
  const int head = is_key ? h - n_head : h;
  float* vec = is_key ? k + (static_cast<int64_t>(t) * n_head_kv + head) * head_dim
                      : q + (static_cast<int64_t>(t) * n_head + head) * head_dim;
  int a = p.n_rot + 2 * (i - p.n_rot / 2), b = a + 1;  // unrotated dims
  if (i < p.n_rot / 2) {
    const PairRotation r = pair_rotation(i, positions[t], p, f);
    rotate(vec, r);
    a = r.a, b = r.b;
  }
  if (!is_key) return;
  const int64_t src = static_cast<int64_t>(t) * c.kv_width + head * head_dim;
  const int64_t dst =
      (static_cast<int64_t>(slots[t]) * c.n_ctx + positions[t] % c.n_ctx) * c.kv_width +
      head * head_dim;
  store_kv_value(c.k, c.type, dst + a, vec[a]);
  store_kv_value(c.k, c.type, dst + b, vec[b]);
  store_kv_value(c.v, c.type, dst + a, v[src + a]);
  store_kv_value(c.v, c.type, dst + b, v[src + b]);
}

__global__ void swiglu_kernel(const float* __restrict__ gate, const float* __restrict__ up,
                              float* __restrict__ out, int64_t n) {
  await_previous_and_allow_next();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    out[i] = silu(gate[i]) * up[i];
  }
}

__global__ void geglu_kernel(const float* __restrict__ gate, const float* __restrict__ up,
                             float* __restrict__ out, int64_t n) {
  await_previous_and_allow_next();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    out[i] = gelu_tanh(gate[i]) * up[i];
  }
}

__global__ void add_bias_kernel(float* __restrict__ x, const float* __restrict__ bias, int64_t n,
                                int dim) {
  await_previous_and_allow_next();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] += bias[i % dim];
}

__global__ void scale_kernel(float* __restrict__ x, float factor, int64_t n) {
  await_previous_and_allow_next();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= factor;
}

__global__ void softcap_kernel(float* __restrict__ x, float cap, int64_t n) {
  await_previous_and_allow_next();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = cap * tanhf(x[i] / cap);
}

__global__ void add_kernel(const float* __restrict__ a, const float* __restrict__ b,
                           float* __restrict__ out, int64_t n) {
  await_previous_and_allow_next();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}

__global__ void gather_rows_kernel(const float* __restrict__ x, const int32_t* __restrict__ rows,
                                   int n_rows, int dim, float* __restrict__ out) {
  await_previous_and_allow_next();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < static_cast<int64_t>(n_rows) * dim)
    out[i] = x[static_cast<int64_t>(rows[i / dim]) * dim + i % dim];
}

constexpr int kThreads = 256;

}  // namespace

InverseFrequencies inverse_frequencies(const RopeParams& p) {
  if (p.n_rot / 2 > kMaxRopePairs) {
    fail("the CUDA rope kernels rotate up to {} dimensions, got {}", 2 * kMaxRopePairs, p.n_rot);
  }
  InverseFrequencies f{};
  for (int i = 0; i < p.n_rot / 2; ++i) f.pair[i] = rope_inverse_frequency(i, p);
  return f;
}

bool dependent_launches_enabled() {
  static const bool enabled = std::getenv("CONCORD_NO_PDL") == nullptr;
  return enabled;
}

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) fail("CUDA {} failed: {}", what, cudaGetErrorString(status));
}

void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail("cuBLAS {} failed: status {}", what, static_cast<int>(status));
}

void dequantize_rows(const Weight& w, int64_t first, int64_t count, __half* out,
                     cudaStream_t stream) {
  dispatch(w.type, [&](auto tag) {
    using T = decltype(tag);
    const auto* blocks = static_cast<const typename T::Block*>(w.data);
    if (w.n_in % 8 == 0) {
      check(launch_dependent(dequantize_groups_kernel<typename T::Block, T::kBlockSize>,
                             blocks_for(count * w.n_in / 8, kThreads), kThreads, 0, stream, blocks,
                             w.n_in, first, count, out),
            "dequantize_rows");
    } else {
      check(launch_dependent(dequantize_rows_kernel<typename T::Block, T::kBlockSize>,
                             blocks_for(count * w.n_in, kThreads), kThreads, 0, stream, blocks,
                             w.n_in, first, count, out),
            "dequantize_rows");
    }
  });
}

void to_half(const float* x, __half* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  check(launch_dependent(to_half_kernel, blocks_for(n, kThreads), kThreads, 0, stream, x, out, n),
        "to_half");
}

void embed(const Weight& table, const BatchView& batch, float* out, cudaStream_t stream) {
  dispatch(table.type, [&](auto tag) {
    using T = decltype(tag);
    check(launch_dependent(embed_kernel<typename T::Block, T::kBlockSize>,
                           blocks_for(batch.n * table.n_in, kThreads), kThreads, 0, stream,
                           static_cast<const typename T::Block*>(table.data), table.n_in,
                           batch.tokens, batch.n, out),
          "embed");
  });
}

void rms_norm(const float* x, const float* weight, float* out, int n, int dim, float eps,
              cudaStream_t stream) {
  if (n == 0) return;
  check(launch_dependent(rms_norm_kernel, n, kNormThreads, 0, stream, x, weight, out, dim, eps),
        "rms_norm");
}

void rope(float* x, const BatchView& batch, int n_heads, int head_dim, const RopeParams& p,
          cudaStream_t stream) {
  const int64_t pairs = static_cast<int64_t>(batch.n) * n_heads * (p.n_rot / 2);
  if (pairs == 0) return;
  check(launch_dependent(rope_kernel, blocks_for(pairs, kThreads), kThreads, 0, stream, x,
                         batch.positions, batch.n, n_heads, head_dim, p, inverse_frequencies(p)),
        "rope");
}

void store_kv(const KvLayer& cache, const float* k, const float* v, const BatchView& batch,
              cudaStream_t stream) {
  const int64_t n = batch.n * cache.kv_width;
  if (n == 0) return;
  check(launch_dependent(store_kv_kernel, blocks_for(n, kThreads), kThreads, 0, stream, cache, k, v,
                         batch.slots, batch.positions, batch.n),
        "store_kv");
}

void rope_store_kv(float* q, float* k, const float* v, const KvLayer& cache, const BatchView& batch,
                   const AttentionParams& a, const RopeParams& p, cudaStream_t stream) {
  const int64_t threads =
      static_cast<int64_t>(batch.n) * (a.n_head + a.n_head_kv) * (a.head_dim / 2);
  if (threads == 0) return;
  check(launch_dependent(rope_store_kv_kernel, blocks_for(threads, kThreads), kThreads, 0, stream,
                         q, k, v, cache, batch.slots, batch.positions, batch.n, a.n_head,
                         a.n_head_kv, a.head_dim, p, inverse_frequencies(p)),
        "rope_store_kv");
}

void swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  check(launch_dependent(swiglu_kernel, blocks_for(n, kThreads), kThreads, 0, stream, gate, up, out,
                         n),
        "swiglu");
}

void geglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  check(launch_dependent(geglu_kernel, blocks_for(n, kThreads), kThreads, 0, stream, gate, up, out,
                         n),
        "geglu");
}

void add_bias(float* x, const float* bias, int n, int dim, cudaStream_t stream) {
  const int64_t count = static_cast<int64_t>(n) * dim;
  if (count == 0) return;
  check(launch_dependent(add_bias_kernel, blocks_for(count, kThreads), kThreads, 0, stream, x, bias,
                         count, dim),
        "add_bias");
}

void scale(float* x, float factor, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  check(launch_dependent(scale_kernel, blocks_for(n, kThreads), kThreads, 0, stream, x, factor, n),
        "scale");
}

void softcap(float* x, float cap, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  check(launch_dependent(softcap_kernel, blocks_for(n, kThreads), kThreads, 0, stream, x, cap, n),
        "softcap");
}

void add(const float* a, const float* b, float* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  check(launch_dependent(add_kernel, blocks_for(n, kThreads), kThreads, 0, stream, a, b, out, n),
        "add");
}

void gather_rows(const float* x, const int32_t* rows, int n_rows, int dim, float* out,
                 cudaStream_t stream) {
  const int64_t n = static_cast<int64_t>(n_rows) * dim;
  if (n == 0) return;
  check(launch_dependent(gather_rows_kernel, blocks_for(n, kThreads), kThreads, 0, stream, x, rows,
                         n_rows, dim, out),
        "gather_rows");
}

}  // namespace concord::cuda
