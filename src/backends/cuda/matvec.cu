// Matrix-vector products for decode steps (n <= kMaxMatvecTokens token rows): each weight
// byte is read once whatever n is.
//
// One warp computes R consecutive output rows. Lane l walks the 8-element groups
// l, l + 32, ... of the row: it loads the activations of a group once (two float4 per
// token) and applies them to its R rows, so activation traffic is 1/R of the weight
// traffic it would otherwise be (for 4-bit weights activations outweigh the weights 8:1).
// A launch can cover up to three matrices of one type that share the input (Q, K, V);
// the gated form pairs row r of the gate matrix with row r of the up matrix and writes
// act(gate) * up; the accumulating form adds into the output (the residual stream).
// An input RMS norm fuses too: W · (x / rms(x) * g) = (W · (x * g)) / rms(x), and every
// warp already reads all of x, so it sums x^2 on the way and scales its dots at the end.
#include <cuda_fp16.h>

#include <type_traits>

#include "backends/cuda/activation.cuh"
#include "backends/cuda/decode_group.cuh"
#include "backends/cuda/kernels.cuh"
#include "backends/cuda/warp.cuh"

namespace concord::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kMaxJobs = 3;

enum class Epilogue { Store, Accumulate, SiluGate, GeluGate };

struct Job {
  const void* w = nullptr;
  float* out = nullptr;
  int64_t n_out = 0;
};
// The matrices of one launch; warps [first_warp[j], first_warp[j + 1]) compute job j.
// Gated launches have two jobs (gate, up) computed by the same warps.
struct Jobs {
  Job job[kMaxJobs];
  const float* norm_weight = nullptr;  // non-null: x is RMS-normalised with this gain
  float norm_eps = 0.0f;
  int64_t first_warp[kMaxJobs + 1] = {};
  int count = 0;
};

__device__ __forceinline__ void load8(const float* p, float (&v)[8]) {
  const float4 a = *reinterpret_cast<const float4*>(p);
  const float4 b = *reinterpret_cast<const float4*>(p + 4);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

// acc[r][t] += row r · x[t] over the row's whole length, for this lane's share; with a
// norm gain g, x[t] * g instead, and sumsq[t] += this lane's share of x[t]^2.
template <typename Block, int BS, int N, int ROWS, bool kNorm>
__device__ __forceinline__ void dot_rows(const Block* const (&rows)[ROWS], int64_t n_in,
                                         const float* __restrict__ x,
                                         const float* __restrict__ gain, int n,
                                         float (&acc)[ROWS][N], float (&sumsq)[N]) {
  using Decoder = GroupDecoder<Block, BS>;
  const int lane = threadIdx.x % kWarp;
  // Vector loads need rows and activations that are whole 8-element groups.
  const int64_t n_groups = n_in % 8 == 0 ? n_in / 8 : 0;
  // Quantised groups are 2 to 9 bytes a lane: more of them in flight to cover latency.
  constexpr int kUnroll = Decoder::kAffine ? 4 : 2;
#pragma unroll kUnroll
  for (int64_t g = lane; g < n_groups; g += kWarp) {
    float xs[N][8], xsum[N];
    float gs[8];
    if constexpr (kNorm) load8(gain + 8 * g, gs);
#pragma unroll
    for (int t = 0; t < N; ++t) {
      if (t < n) {
        load8(x + t * n_in + 8 * g, xs[t]);
        if constexpr (kNorm) {
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            sumsq[t] = fmaf(xs[t][j], xs[t][j], sumsq[t]);
            xs[t][j] *= gs[j];
          }
        }
        xsum[t] = 0.0f;
        if constexpr (Decoder::kOffset) {
#pragma unroll
          for (int j = 0; j < 8; ++j) xsum[t] += xs[t][j];
        }
      }
    }
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
      float q[8];
      const decode::Affine affine = Decoder::decode(rows[r], 8 * g, q);
#pragma unroll
      for (int t = 0; t < N; ++t) {
        if (t < n) {
          float dot = 0.0f;
#pragma unroll
          for (int j = 0; j < 8; ++j) dot = fmaf(q[j], xs[t][j], dot);
          if constexpr (Decoder::kOffset) {
            acc[r][t] += affine.scale * dot + affine.offset * xsum[t];
          } else if constexpr (Decoder::kAffine) {
            acc[r][t] += affine.scale * dot;
          } else {
            acc[r][t] += dot;
          }
        }
      }
    }
  }
  // Rows whose length is not a multiple of 8 (plain float formats only): element by element.
  for (int64_t e = 8 * n_groups + lane; e < n_in; e += kWarp) {
    float xe[N];
#pragma unroll
    for (int t = 0; t < N; ++t) {
      if (t < n) {
        xe[t] = x[t * n_in + e];
        if constexpr (kNorm) sumsq[t] = fmaf(xe[t], xe[t], sumsq[t]), xe[t] *= gain[e];
      }
    }
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
      const float v = decode::element(rows[r][e / BS], static_cast<int>(e % BS));
#pragma unroll
      for (int t = 0; t < N; ++t) {
        if (t < n) acc[r][t] += v * xe[t];
      }
    }
  }
}

// R rows per warp (2R for gated launches: R gate rows and the matching R up rows).
template <typename Block, int BS, int N, int R, Epilogue E, bool kNorm>
__global__ void __launch_bounds__(kWarp* kWarpsPerBlock)
    matvec_kernel(Jobs jobs, int64_t n_in, const float* __restrict__ x, int n) {
  constexpr bool kGated = E == Epilogue::SiluGate || E == Epilogue::GeluGate;
  constexpr int kRows = kGated ? 2 * R : R;
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  const int n_jobs = kGated ? 1 : jobs.count;
  if (warp >= jobs.first_warp[n_jobs]) return;
  int j = 0;
  while (j + 1 < n_jobs && warp >= jobs.first_warp[j + 1]) ++j;
  const Job& job = jobs.job[j];
  const int64_t row0 = (warp - jobs.first_warp[j]) * R;
  const int64_t blocks_per_row = n_in / BS;
  const Block* rows[kRows];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    // Rows past the end (n_out % R) re-read the last row and are not stored.
    const int64_t row = min(row0 + r, job.n_out - 1);
    rows[r] = static_cast<const Block*>(job.w) + row * blocks_per_row;
    if constexpr (kGated)
      rows[R + r] = static_cast<const Block*>(jobs.job[1].w) + row * blocks_per_row;
  }
  float acc[kRows][N];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int t = 0; t < N; ++t) acc[r][t] = 0.0f;
  }
  float sumsq[N];
#pragma unroll
  for (int t = 0; t < N; ++t) sumsq[t] = 0.0f;
  dot_rows<Block, BS, N, kRows, kNorm>(rows, n_in, x, jobs.norm_weight, n, acc, sumsq);
#pragma unroll
  for (int t = 0; t < N; ++t) {
    const float inv_rms = kNorm ? rsqrtf(warp_sum(sumsq[t]) / n_in + jobs.norm_eps) : 1.0f;
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[r][t] = warp_sum(acc[r][t]) * inv_rms;
  }
  // Every lane holds every sum; lane (r * N + t) % 32 stores value (r, t).
  const int lane = threadIdx.x % kWarp;
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int t = 0; t < N; ++t) {
      if (t >= n || row0 + r >= job.n_out || lane != (r * N + t) % kWarp) continue;
      float* o = job.out + t * job.n_out + row0 + r;
      if constexpr (E == Epilogue::Store) *o = acc[r][t];
      if constexpr (E == Epilogue::Accumulate) *o += acc[r][t];
      if constexpr (E == Epilogue::SiluGate) *o = silu(acc[r][t]) * acc[R + r][t];
      if constexpr (E == Epilogue::GeluGate) *o = gelu_tanh(acc[r][t]) * acc[R + r][t];
    }
  }
}

template <Epilogue E>
void launch(GgmlType type, Jobs jobs, int64_t n_in, const float* x, int n, int rows_per_warp,
            cudaStream_t stream) {
  constexpr bool kGated = E == Epilogue::SiluGate || E == Epilogue::GeluGate;
  const int n_jobs = kGated ? 1 : jobs.count;
  rows_per_warp = n == 1 && rows_per_warp >= 4 ? 4 : 1;  // the instantiated variants
  for (int j = 0; j < n_jobs; ++j) {
    jobs.first_warp[j + 1] =
        jobs.first_warp[j] + (jobs.job[j].n_out + rows_per_warp - 1) / rows_per_warp;
  }
  const auto blocks =
      static_cast<unsigned>((jobs.first_warp[n_jobs] + kWarpsPerBlock - 1) / kWarpsPerBlock);
  if (blocks == 0) return;
  dispatch(type, [&](auto tag) {
    using T = decltype(tag);
    const auto run = [&](auto kernel) {
      kernel<<<blocks, kWarp * kWarpsPerBlock, 0, stream>>>(jobs, n_in, x, n);
    };
    using B = typename T::Block;
    constexpr int BS = T::kBlockSize;
    const auto by_rows = [&](auto norm) {
      constexpr bool kNorm = decltype(norm)::value;
      if (n > 1) {
        run(matvec_kernel<B, BS, kMaxMatvecTokens, 1, E, kNorm>);
      } else if (rows_per_warp == 4) {
        run(matvec_kernel<B, BS, 1, 4, E, kNorm>);
      } else {
        run(matvec_kernel<B, BS, 1, 1, E, kNorm>);
      }
    };
    // The accumulating form (residual adds) never takes a norm: one variant fewer.
    if constexpr (E != Epilogue::Accumulate) {
      if (jobs.norm_weight != nullptr) return by_rows(std::true_type{});
    }
    by_rows(std::false_type{});
  });
  check(cudaGetLastError(), "matvec");
}

// Rows per warp (1 or 4) for single-token steps, measured by bench/cuda_matvec_bench on
// an H100 (docs/perf.md): rows of one byte or more per element (F32, F16, BF16, Q8_0) gain
// from sharing activation loads across 4 rows; 4-bit to 6-bit rows are bound by decoding
// instructions and lose occupancy with more rows. Batched steps use one row.
int default_rows_per_warp(GgmlType type, int n) {
  const bool wide = type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16 ||
                    type == GgmlType::Q8_0;
  return n == 1 && wide ? 4 : 1;
}

Job job_of(const Weight& w, float* out) {
  return {w.data, out, w.n_out};
}

}  // namespace

void matvec(const Weight& w, const float* x, float* out, int n, bool accumulate,
            cudaStream_t stream, int rows_per_warp) {
  Jobs jobs;
  jobs.job[0] = job_of(w, out);
  jobs.count = 1;
  if (rows_per_warp <= 0) rows_per_warp = default_rows_per_warp(w.type, n);
  if (accumulate) {
    launch<Epilogue::Accumulate>(w.type, jobs, w.n_in, x, n, rows_per_warp, stream);
  } else {
    launch<Epilogue::Store>(w.type, jobs, w.n_in, x, n, rows_per_warp, stream);
  }
}

bool matvec_many(const Weight* ws, float* const* outs, int count, const float* x, int n,
                 const InputNorm& norm, cudaStream_t stream) {
  if (count < 1 || count > kMaxJobs) return false;
  Jobs jobs;
  jobs.norm_weight = norm.weight;
  jobs.norm_eps = norm.eps;
  for (int i = 0; i < count; ++i) {
    if (ws[i].type != ws[0].type || ws[i].n_in != ws[0].n_in) return false;
    jobs.job[i] = job_of(ws[i], outs[i]);
  }
  jobs.count = count;
  launch<Epilogue::Store>(ws[0].type, jobs, ws[0].n_in, x, n, default_rows_per_warp(ws[0].type, n),
                          stream);
  return true;
}

bool matvec_gated(const Weight& gate, const Weight& up, const float* x, float* out, int n,
                  GatedActivation act, const InputNorm& norm, cudaStream_t stream) {
  if (gate.type != up.type || gate.n_in != up.n_in || gate.n_out != up.n_out) return false;
  Jobs jobs;
  jobs.norm_weight = norm.weight;
  jobs.norm_eps = norm.eps;
  jobs.job[0] = job_of(gate, out);
  jobs.job[1] = job_of(up, nullptr);
  jobs.count = 2;
  if (act == GatedActivation::Silu) {
    launch<Epilogue::SiluGate>(gate.type, jobs, gate.n_in, x, n,
                               default_rows_per_warp(gate.type, n), stream);
  } else {
    launch<Epilogue::GeluGate>(gate.type, jobs, gate.n_in, x, n,
                               default_rows_per_warp(gate.type, n), stream);
  }
  return true;
}

}  // namespace concord::cuda
