// The matrix-vector kernel of decode steps (n <= kMaxMatvecTokens token rows), as templates:
// matvec.cu instantiates the tiling chosen per weight type, bench/cuda_matvec_bench a grid
// of tilings to choose from. Each weight byte is read once whatever n is.
//
// Tiling<R, S, U>: a group of S warps computes R consecutive output rows. Warp `part` of the
// group walks the 8-element groups lane + 32 * (part + S * i) of the rows, U of them in
// flight; it loads the activations of an 8-element group once (two float4 per token) and
// applies them to its R rows, so activation traffic is 1/R of the weight traffic it would
// otherwise be (for 4-bit weights activations outweigh the weights 8:1). S > 1 splits a row
// across warps (partial sums meet in shared memory): more warps, more loads in flight for
// matrices of few rows.
//
// A launch can cover up to three matrices of one type that share the input (Q, K, V);
// the gated form pairs row r of the gate matrix with row r of the up matrix and writes
// act(gate) * up; the accumulating form adds into the output (the residual stream).
// An input RMS norm fuses too: W · (x / rms(x) * g) = (W · (x * g)) / rms(x), and every
// warp already reads its share of x, so it sums x^2 on the way and scales its dots at the end.
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/activation.cuh"
#include "backends/cuda/decode_group.cuh"
#include "backends/cuda/dependent_launch.cuh"
#include "backends/cuda/kernels.cuh"
#include "backends/cuda/warp.cuh"

namespace concord::cuda::matvec_detail {

constexpr int kWarpsPerBlock = 4;
constexpr int kMaxJobs = 3;

template <int R, int S, int U, bool W = false>
struct Tiling {
  static_assert(kWarpsPerBlock % S == 0, "a block holds whole warp groups");
  static constexpr int kRows = R;    // output rows per warp group
  static constexpr int kSplit = S;   // warps per group, each on 1/S of every row
  static constexpr int kUnroll = U;  // 8-element groups (wide: 32-element steps) in flight per lane
  static constexpr bool kWide = W;   // 32-element lane steps (StepDecoder; single tokens only)
};

enum class Epilogue { Store, Accumulate, SiluGate, GeluGate };

struct Job {
  const void* w = nullptr;
  float* out = nullptr;
  int64_t n_out = 0;
};
// The matrices of one launch; warp groups [first_group[j], first_group[j + 1]) compute job j.
// Gated launches have two jobs (gate, up) computed by the same warps.
struct Jobs {
  Job job[kMaxJobs];
  const float* norm_weight = nullptr;  // non-null: x is RMS-normalised with this gain
  float norm_eps = 0.0f;
  int64_t first_group[kMaxJobs + 1] = {};
  // first_group[count] (gated: [1]), kept apart: the kernels index no array at run time,
  // which would copy the whole parameter block to the stack of every thread.
  int64_t n_groups = 0;
  int count = 0;
  int tokens = 1;  // token rows of x (matvec_stream.cuh's batched tensor path reads it)
};

// Fills in first_group and n_groups for groups of `rows_per_group` rows (gated launches
// compute one job: their up matrix rides along with the gate's groups).
inline void assign_groups(Jobs& jobs, int rows_per_group, bool gated) {
  const int n_jobs = gated ? 1 : jobs.count;
  for (int j = 0; j < n_jobs; ++j) {
    jobs.first_group[j + 1] =
        jobs.first_group[j] + (jobs.job[j].n_out + rows_per_group - 1) / rows_per_group;
  }
  jobs.n_groups = jobs.first_group[n_jobs];
}

__device__ __forceinline__ void load8(const float* p, float (&v)[8]) {
  const float4 a = *reinterpret_cast<const float4*>(p);
  const float4 b = *reinterpret_cast<const float4*>(p + 4);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

__device__ __forceinline__ void load4(const float* p, float* v) {
  const float4 f = *reinterpret_cast<const float4*>(p);
  v[0] = f.x, v[1] = f.y, v[2] = f.z, v[3] = f.w;
}

__device__ __forceinline__ void load16(const float* p, float (&v)[16]) {
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float4 f = reinterpret_cast<const float4*>(p)[i];
    v[4 * i] = f.x, v[4 * i + 1] = f.y, v[4 * i + 2] = f.z, v[4 * i + 3] = f.w;
  }
}

// acc[r][t] += row r · x[t] over this warp's share of the row (8-element groups
// first, first + step, ...); with a norm gain g, x[t] * g instead, and sumsq[t] += the
// share's x[t]^2.
template <typename Block, int BS, int N, int ROWS, int U, bool kNorm>
__device__ __forceinline__ void dot_rows(const Block* const (&rows)[ROWS], int64_t n_in,
                                         const float* __restrict__ x,
                                         const float* __restrict__ gain, int n, int64_t first,
                                         int64_t step, float (&acc)[ROWS][N], float (&sumsq)[N]) {
  using Decoder = GroupDecoder<Block, BS>;
  // Vector loads need rows and activations that are whole 8-element groups.
  const int64_t n_groups = n_in % 8 == 0 ? n_in / 8 : 0;
#pragma unroll U
  for (int64_t g = first; g < n_groups; g += step) {
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
  for (int64_t e = 8 * n_groups + first; e < n_in; e += step) {
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

// The wide loop's arithmetic, for one 32-element step: acc[r] += the decoded step of row r
// (StepDecoder raw words) · xs, the step's activations in two halves of 16, with xsum their
// sums (used by formats with an offset).
template <typename Block, int ROWS>
__device__ __forceinline__ void accumulate_step(const typename StepDecoder<Block>::Raw (&raw)[ROWS],
                                                int64_t step, const float (&xs)[2][16],
                                                const float (&xsum)[2], float (&acc)[ROWS]) {
  using Decoder = StepDecoder<Block>;
#pragma unroll
  for (int r = 0; r < ROWS; ++r) {
    float q[2][16];
    decode::Affine affine[2];
    Decoder::decode(raw[r], step, q, affine);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float dot = 0.0f;
#pragma unroll
      for (int j = 0; j < 16; ++j) dot = fmaf(q[h][j], xs[h][j], dot);
      acc[r] += affine[h].scale * dot;
      if constexpr (Decoder::kOffset) acc[r] += affine[h].offset * xsum[h];
    }
  }
}

// The wide loop (single tokens) with activations read from global memory: acc[r] += row r · x
// over this warp's share of 32-element steps (first, first + step, ...); sumsq as in
// dot_rows. Long rows take it (see matvec_wide.cuh for the rest).
template <typename Block, int ROWS, int U, bool kNorm>
__device__ __forceinline__ void dot_rows_wide(const Block* const (&rows)[ROWS], int64_t n_in,
                                              const float* __restrict__ x,
                                              const float* __restrict__ gain, int64_t first,
                                              int64_t step, float (&acc)[ROWS], float& sumsq) {
  using Decoder = StepDecoder<Block>;
  const int64_t n_steps = n_in / 32;
#pragma unroll U
  for (int64_t s = first; s < n_steps; s += step) {
    // Every row's weights first: their loads are in flight together.
    typename Decoder::Raw raw[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) raw[r] = Decoder::load(rows[r], s);
    float xs[2][16], xsum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int p = 0; p < 8; ++p) {
      float* piece = xs[p / 4] + 4 * (p % 4);
      const int64_t start = Decoder::piece_start(s, p);
      load4(x + start, piece);
      if constexpr (kNorm) {
        float gs[4];
        load4(gain + start, gs);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          sumsq = fmaf(piece[j], piece[j], sumsq);
          piece[j] *= gs[j];
        }
      }
    }
    if constexpr (Decoder::kOffset) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
#pragma unroll
        for (int j = 0; j < 16; ++j) xsum[h] += xs[h][j];
      }
    }
    accumulate_step<Block, ROWS>(raw, s, xs, xsum, acc);
  }
}

// The job that warp group `group` works on and the group its rows start from, picked by
// constant indices (indexing the parameter array at run time would copy it to the stack).
__device__ __forceinline__ Job job_of_group(const Jobs& jobs, int n_jobs, int64_t group,
                                            int64_t& job_first_group) {
  Job job = jobs.job[0];
  job_first_group = 0;
#pragma unroll
  for (int i = 1; i < kMaxJobs; ++i) {
    if (i < n_jobs && group >= jobs.first_group[i])
      job = jobs.job[i], job_first_group = jobs.first_group[i];
  }
  return job;
}

// The rows of the warp group whose first output row is row0 of `job`: rows[r] for r < R and,
// for gated launches, the matching rows of the up matrix (jobs.job[1]) in rows[R + r]. Rows
// past the end (n_out % R) re-read the last row and are not stored.
template <typename Block, int R, bool kGated>
__device__ __forceinline__ void group_rows(const Jobs& jobs, const Job& job, int64_t row0,
                                           int64_t blocks_per_row,
                                           const Block* (&rows)[kGated ? 2 * R : R]) {
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t row = max(int64_t{0}, min(row0 + r, job.n_out - 1));
    rows[r] = static_cast<const Block*>(job.w) + row * blocks_per_row;
    if constexpr (kGated)
      rows[R + r] = static_cast<const Block*>(jobs.job[1].w) + row * blocks_per_row;
  }
}

// Writes one output value: the row's dot (already scaled by the norm) and, for gated
// launches, the matching up row's.
template <Epilogue E>
__device__ __forceinline__ void store_output(float* o, float value, float up) {
  if constexpr (E == Epilogue::Store) *o = value;
  if constexpr (E == Epilogue::Accumulate) *o += value;
  if constexpr (E == Epilogue::SiluGate) *o = silu(value) * up;
  if constexpr (E == Epilogue::GeluGate) *o = gelu_tanh(value) * up;
}

// Sums v[k] (K values, the same in every lane after warp_sum) over the S warps of each
// group through shared memory (blocks of W warps); every warp of the group gets the totals.
template <int S, int W = kWarpsPerBlock, int K>
__device__ __forceinline__ void group_sum(float (&v)[K]) {
  if constexpr (S > 1) {
    __shared__ float partial[W][K];
    const int warp_in_block = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      if (lane == k % kWarp) partial[warp_in_block][k] = v[k];
    }
    __syncthreads();
    const int leader = warp_in_block - warp_in_block % S;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      float total = 0.0f;
#pragma unroll
      for (int s = 0; s < S; ++s) total += partial[leader + s][k];
      v[k] = total;
    }
  }
}

// R rows per warp group (2R for gated launches: R gate rows and the matching R up rows).
template <typename Block, int BS, int N, typename T, Epilogue E, bool kNorm>
__global__ void __launch_bounds__(kWarp* kWarpsPerBlock)
    matvec_kernel(Jobs jobs, int64_t n_in, const float* __restrict__ x, int n) {
  constexpr int R = T::kRows, S = T::kSplit;
  constexpr bool kGated = E == Epilogue::SiluGate || E == Epilogue::GeluGate;
  constexpr int kRows = kGated ? 2 * R : R;
  const int warp_in_block = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int part = warp_in_block % S;
  const int64_t group = (static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + warp_in_block) / S;
  const int n_jobs = kGated ? 1 : jobs.count;
  // Groups past the end still reach the block barrier of group_sum; they compute nothing.
  const bool active = group < jobs.n_groups;
  int64_t job_first_group;
  const Job job = job_of_group(jobs, n_jobs, group, job_first_group);
  const int64_t row0 = (group - job_first_group) * R;
  const int64_t blocks_per_row = n_in / BS;
  const Block* rows[kRows];
  group_rows<Block, R, kGated>(jobs, job, row0, blocks_per_row, rows);
  await_previous_and_allow_next();  // x is the previous kernel's output
  // sums[r * N + t]: row r's dot with x[t]; sums[kRows * N + t]: x[t]'s sum of squares.
  float acc[kRows][N], sumsq[N];
#pragma unroll
  for (int t = 0; t < N; ++t) {
    sumsq[t] = 0.0f;
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[r][t] = 0.0f;
  }
  if (active) {
    if constexpr (T::kWide) {
      static_assert(N == 1, "the wide loop takes single tokens");
      float row_acc[kRows];
#pragma unroll
      for (int r = 0; r < kRows; ++r) row_acc[r] = 0.0f;
      dot_rows_wide<Block, kRows, T::kUnroll, kNorm>(
          rows, n_in, x, jobs.norm_weight, lane + kWarp * part, kWarp * S, row_acc, sumsq[0]);
#pragma unroll
      for (int r = 0; r < kRows; ++r) acc[r][0] = row_acc[r];
    } else {
      dot_rows<Block, BS, N, kRows, T::kUnroll, kNorm>(rows, n_in, x, jobs.norm_weight, n,
                                                       lane + kWarp * part, kWarp * S, acc, sumsq);
    }
  }
  float sums[kRows * N + N];
#pragma unroll
  for (int t = 0; t < N; ++t) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) sums[r * N + t] = warp_sum(acc[r][t]);
    sums[kRows * N + t] = kNorm ? warp_sum(sumsq[t]) : 0.0f;
  }
  group_sum<S>(sums);
  if (!active || part != 0) return;
    // Every lane holds every sum; lane (r * N + t) % 32 stores value (r, t).
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int t = 0; t < N; ++t) {
      if (t >= n || row0 + r >= job.n_out || lane != (r * N + t) % kWarp) continue;
      const float inv_rms = kNorm ? rsqrtf(sums[kRows * N + t] / n_in + jobs.norm_eps) : 1.0f;
      const float value = sums[r * N + t] * inv_rms;
      float up = 0.0f;
      if constexpr (kGated) up = sums[(R + r) * N + t] * inv_rms;
      store_output<E>(job.out + t * job.n_out + row0 + r, value, up);
    }
  }
}

// Launches the kernel over `jobs` (first_group filled in here) with tiling T.
template <typename Block, int BS, int N, typename T, Epilogue E, bool kNorm>
void launch_tiled(Jobs jobs, int64_t n_in, const float* x, int n, cudaStream_t stream) {
  constexpr bool kGated = E == Epilogue::SiluGate || E == Epilogue::GeluGate;
  assign_groups(jobs, T::kRows, kGated);
  const int64_t warps = jobs.n_groups * T::kSplit;
  const auto blocks = static_cast<unsigned>((warps + kWarpsPerBlock - 1) / kWarpsPerBlock);
  if (blocks == 0) return;
  check(launch_dependent(matvec_kernel<Block, BS, N, T, E, kNorm>, blocks, kWarp * kWarpsPerBlock,
                         0, stream, jobs, n_in, x, n),
        "matvec");
}

}  // namespace concord::cuda::matvec_detail
