// The single-token matrix-vector kernel of the formats with a StepDecoder (Q4_0, Q8_0,
// Q4_K): each lane decodes one 32-element step of a row at a time, R rows at once.
//
// Activations come from shared memory. A lane's step is 32 floats of x in runs of 16 or 32
// consecutive ones, so lanes of one warp read x at a 64- or 128-byte stride: from global
// memory every 16-byte load of the warp touches 16 to 32 cache lines, more L1 wavefronts
// than the weights' own loads take, and Nsight Compute showed the register-fed kernel
// stalled on L1 and under 2.1 TB/s even on the largest matrices. Each block therefore first copies
// x (times the norm gain, when one is fused) into shared memory in step order, 36 floats per step:
// the 4-float pad puts the 8 lanes of each quarter-warp on distinct banks, so a warp reads its 32
// steps' 16-byte pieces without conflicts. The block then stays resident and walks warp groups
// gridDim.x apart, so the copy happens once per resident block, not per group.
//
// WideTiling<R, S, W>: a group of S warps computes R consecutive rows (gated launches: R gate
// rows and the matching R up rows), warp `part` of the group taking steps
// lane + 32 * (part + S * i); blocks of W warps share one staged x. Epilogues and the fused input
// norm as in matvec_kernel.cuh.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>

#include "backends/cuda/kernels.cuh"
#include "backends/cuda/matvec_kernel.cuh"

namespace concord::cuda::matvec_detail {

template <int R, int S, int W>
struct WideTiling {
  static_assert(W % S == 0, "a block holds whole warp groups");
  static constexpr int kRows = R;
  static constexpr int kSplit = S;
  static constexpr int kWarps = W;  // warps per block, sharing one staged copy of x
};

constexpr int kStagedStride = 36;  // floats per staged step: 32 and a bank-spreading pad
// Staged activations larger than this fall back to matvec_kernel (n_in beyond ~45k).
constexpr size_t kMaxStagedBytes = 200 * 1024;

inline size_t staged_bytes(int64_t n_in) {
  return static_cast<size_t>(n_in / 32) * kStagedStride * sizeof(float);
}

// staged[s * kStagedStride + 4 p + j] = x[piece_start(s, p) + j] (* gain, with a norm), for
// every step s of the row and piece p of it; returns the sum of x^2 over the row (every thread gets
// it) when kNorm, else 0.
template <typename Decoder, int W, bool kNorm>
__device__ __forceinline__ float stage_activations(const float* __restrict__ x,
                                                   const float* __restrict__ gain, int64_t n_in,
                                                   float* staged) {
  __shared__ float warp_squares[W];
  float squares = 0.0f;
  for (int64_t i = threadIdx.x; i < n_in / 4; i += blockDim.x) {
    const int64_t step = i / 8;
    const int piece = static_cast<int>(i % 8);
    const int64_t source = Decoder::piece_start(step, piece);
    float4 v = *reinterpret_cast<const float4*>(x + source);
    if constexpr (kNorm) {
      squares += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
      const float4 g = *reinterpret_cast<const float4*>(gain + source);
      v.x *= g.x, v.y *= g.y, v.z *= g.z, v.w *= g.w;
    }
    *reinterpret_cast<float4*>(staged + step * kStagedStride + 4 * piece) = v;
  }
  if constexpr (kNorm) {
    squares = warp_sum(squares);
    if (threadIdx.x % kWarp == 0) warp_squares[threadIdx.x / kWarp] = squares;
  }
  __syncthreads();
  float total = 0.0f;
  if constexpr (kNorm) {
#pragma unroll
    for (int w = 0; w < W; ++w) total += warp_squares[w];
  }
  return total;
}

// A staged step's activations, in two halves of 16, and their sums (formats with an offset).
template <typename Decoder>
__device__ __forceinline__ void load_staged_step(const float* staged_step, float (&xs)[2][16],
                                                 float (&xsum)[2]) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    load16(staged_step + 16 * h, xs[h]);
    xsum[h] = 0.0f;
    if constexpr (Decoder::kOffset) {
#pragma unroll
      for (int j = 0; j < 16; ++j) xsum[h] += xs[h][j];
    }
  }
}

// acc[r] += step `step` of row r (StepDecoder) · the staged activations of that step.
template <typename Block, int ROWS>
__device__ __forceinline__ void dot_step(const Block* const (&rows)[ROWS], int64_t step,
                                         const float* staged_step, float (&acc)[ROWS]) {
  using Decoder = StepDecoder<Block>;
  // Every row's weights first: their loads are in flight together.
  typename Decoder::Raw raw[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; ++r) raw[r] = Decoder::load(rows[r], step);
  float xs[2][16], xsum[2];
  load_staged_step<Decoder>(staged_step, xs, xsum);
  accumulate_step<Block, ROWS>(raw, step, xs, xsum, acc);
}

template <typename Block, int BS, typename T, Epilogue E, bool kNorm>
__global__ void __launch_bounds__(kWarp* T::kWarps)
    matvec_wide_kernel(Jobs jobs, int64_t n_in, const float* __restrict__ x) {
  using Decoder = StepDecoder<Block>;
  constexpr int R = T::kRows, S = T::kSplit;
  constexpr int kGroupsPerBlock = T::kWarps / S;
  constexpr bool kGated = E == Epilogue::SiluGate || E == Epilogue::GeluGate;
  constexpr int kRows = kGated ? 2 * R : R;
  await_previous_and_allow_next();  // x is the previous kernel's output
  extern __shared__ float4 staged_storage[];
  float* staged = reinterpret_cast<float*>(staged_storage);
  const float squares =
      stage_activations<Decoder, T::kWarps, kNorm>(x, jobs.norm_weight, n_in, staged);
  const float inv_rms = kNorm ? rsqrtf(squares / n_in + jobs.norm_eps) : 1.0f;

  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp, part = warp % S;
  const int n_jobs = kGated ? 1 : jobs.count;
  const int64_t n_groups = jobs.n_groups, n_steps = n_in / 32;
  const int64_t blocks_per_row = n_in / BS;
  // Every warp runs the same number of rounds: group_sum's barrier needs the whole block.
  for (int64_t first = static_cast<int64_t>(blockIdx.x) * kGroupsPerBlock; first < n_groups;
       first += static_cast<int64_t>(gridDim.x) * kGroupsPerBlock) {
    const int64_t group = first + warp / S;
    const bool active = group < n_groups;
    int64_t job_first_group;
    const Job job = job_of_group(jobs, n_jobs, active ? group : 0, job_first_group);
    const int64_t row0 = (group - job_first_group) * R;
    const Block* rows[kRows];
    group_rows<Block, R, kGated>(jobs, job, row0, blocks_per_row, rows);
    float acc[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[r] = 0.0f;
    if (active) {
      for (int64_t s = lane + kWarp * part; s < n_steps; s += kWarp * S)
        dot_step<Block, kRows>(rows, s, staged + s * kStagedStride, acc);
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[r] = warp_sum(acc[r]);
    group_sum<S, T::kWarps>(acc);
    if (active && part == 0) {
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (row0 + r >= job.n_out || lane != r) continue;
        float up = 0.0f;
        if constexpr (kGated) up = acc[R + r] * inv_rms;
        store_output<E>(job.out + row0 + r, acc[r] * inv_rms, up);
      }
    }
    if constexpr (S > 1) __syncthreads();  // group_sum's shared sums are read: free them
  }
}

// Blocks for a launch of `kernel` whose blocks stay resident and walk the work: as many as
// fit on the device at once with `smem` bytes of staged data each, at most `needed`.
template <typename Kernel>
unsigned resident_blocks(Kernel kernel, int threads, size_t smem, int64_t needed) {
  // Cheap host calls, made per launch (decode steps replay a graph): the device may change.
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(kMaxStagedBytes)),
        "matvec shared memory");
  int device = 0, sms = 0, per_sm = 0;
  check(cudaGetDevice(&device), "device");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "SM count");
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, smem),
        "matvec occupancy");
  return static_cast<unsigned>(
      std::min<int64_t>(needed, static_cast<int64_t>(std::max(1, per_sm)) * sms));
}

// Launches the wide kernel over `jobs` (first_group filled in here) with tiling T: as many
// blocks as fit on the device at once, each holding the staged activations. Returns false,
// launching nothing, where the row is too long to stage.
template <typename Block, int BS, typename T, Epilogue E, bool kNorm>
bool launch_wide(Jobs jobs, int64_t n_in, const float* x, cudaStream_t stream) {
  const size_t smem = staged_bytes(n_in);
  if (smem > kMaxStagedBytes) return false;
  const auto kernel = matvec_wide_kernel<Block, BS, T, E, kNorm>;
  assign_groups(jobs, T::kRows, E == Epilogue::SiluGate || E == Epilogue::GeluGate);
  constexpr int kGroupsPerBlock = T::kWarps / T::kSplit;
  const int64_t needed = (jobs.n_groups + kGroupsPerBlock - 1) / kGroupsPerBlock;
  if (needed == 0) return true;
  const unsigned blocks = resident_blocks(kernel, kWarp * T::kWarps, smem, needed);
  check(launch_dependent(kernel, blocks, kWarp * T::kWarps, smem, stream, jobs, n_in, x), "matvec");
  return true;
}

}  // namespace concord::cuda::matvec_detail
