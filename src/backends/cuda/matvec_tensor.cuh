// Tensor-core products for the streaming matrix-vector kernel (matvec_stream.cuh): a warp
// multiplies a tile's 16 staged row pieces by x one 32-element step at a time with two
// mma.m16n8k16 (fp16 inputs, fp32 accumulation), instead of decoding every code to fp32
// and multiplying it in an FMA of its own.
//
// Why: once the copies were in flight, the fp32 path was bound by its decoding (docs/perf.md,
// session 10); here codes become fp16 operands two at a time and the tensor core does the
// multiply-adds. SASS counts per element, fp32 path -> this one: Q4_0 3.6 -> 1.7, Q8_0
// 4.4 -> 1.9, Q4_K 4.7 -> 2.75 (docs/perf.md, session 11). Measured on an H100, 8B tg128:
// Q4_0 357 -> 392 t/s, Q4_K 320 -> 348, Q8_0 level (session 12, once the row pieces were
// padded against bank conflicts and x staged a lane run per thread). The operands and the
// staging order are in tensor_fragments.h, which the host tests rebuild into whole mmas.
//
// x is staged as fp16 (times the norm's gain and 1/rms when one is fused), the precision of
// the prefill path. For a single token the 8 columns of B all hold x, so every lane of a quad
// ends with the full sums of its two rows; a batched step puts a token in each column.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "backends/cuda/matvec_kernel.cuh"
#include "backends/cuda/tensor_fragments.h"

namespace concord::cuda::matvec_detail {

// D = A · B + C for one m16n8k16 tile: a0..a3 are A's fp16 pairs (rows g, g + 8 at k-slots
// 2t, 2t + 1; then rows g, g + 8 at 2t + 8, 2t + 9), b0, b1 B's column g at the same slots.
__device__ __forceinline__ void mma_16x8x16(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                            uint32_t a3, uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
// sums += mma m of a block's two (tensor::BlockOperands: A's pairs and B's column).
__device__ __forceinline__ void mma_of(const tensor::BlockOperands& o, int m, float (&sums)[4]) {
  mma_16x8x16(sums, o.a[m][0], o.a[m][1], o.a[m][2], o.a[m][3], o.b[m][0], o.b[m][1]);
}

// The staged activations of the tensor path, per token: per block, 4 runs of 8 halves (run t
// in lane t's order) at 64-byte strides, then one float constant per block.
constexpr int kTensorStagedBytesPerBlock = 64 + 4;

__host__ __device__ inline size_t tensor_staged_bytes(int64_t n_in, int tokens) {
  return static_cast<size_t>(tokens) * static_cast<size_t>(n_in / 32) * kTensorStagedBytesPerBlock;
}

// One token's staged activations within `area` (n_steps blocks a row).
struct StagedTensorX {
  const uint4* runs;
  const float* constants;
  __device__ __forceinline__ StagedTensorX(const uint8_t* area, int n_steps, int token) {
    const uint8_t* at = area + static_cast<size_t>(token) * n_steps * kTensorStagedBytesPerBlock;
    runs = reinterpret_cast<const uint4*>(at);
    constants = reinterpret_cast<const float*>(at + 64 * static_cast<size_t>(n_steps));
  }
};

// How many runs a thread stages per round of stage_tensor_activations. A round issues all its
// loads before it converts any, so it waits on L2 once; a 14336-wide down projection took 7
// rounds of one run, each waiting, while the stages of weights it had prefetched sat ready.
constexpr int kStagingRuns = 4;

// x[lo], x[lo + 1], x[hi], x[hi + 1] (lo and hi even): one 16-byte load where they are an
// aligned run of 4 (every lane of Q8_0 and Q4_K, and of Q4_0's odd blocks), else two 8-byte
// loads (Q4_0's even blocks, whose lanes' code bytes start at 2 + 4t or lie at either end).
__device__ __forceinline__ float4 load_two_pairs(const float* __restrict__ x, int lo, int hi) {
  if (hi == lo + 2 && lo % 4 == 0) return *reinterpret_cast<const float4*>(x + lo);
  const float2 a = *reinterpret_cast<const float2*>(x + lo);
  const float2 b = *reinterpret_cast<const float2*>(x + hi);
  return make_float4(a.x, a.y, b.x, b.y);
}

// Stages one token's x (times gain / rms(x) with a norm, so the sums need no scale after) for
// the tensor path: a thread per run (block b = i / 4, lane order t = i % 4), whose 8 elements
// are four pairs in x; the quad of a block adds up its constant. n_in % 256 == 0, so every
// warp's lanes take whole quads in every round. Where one round covers x (n_in <= 8192 at
// 256 threads: the 8B Q/K/V and gate/up), the norm's sum of squares comes from the values
// that round loads, not from a pass of its own over x.
template <typename Block, bool kNorm>
__device__ void stage_tensor_activations(const float* __restrict__ x,
                                         const float* __restrict__ gain, float eps, int64_t n_in,
                                         uint8_t* area) {
  __shared__ float warp_sums[kWarp];
  const int n_blocks = static_cast<int>(n_in / 32), n_runs = 4 * n_blocks;
  const int stride = static_cast<int>(blockDim.x);
  const bool one_round = n_runs <= kStagingRuns * stride;
  float inv_rms = 1.0f;
  if (kNorm && !one_round) {
    float squares = 0.0f;
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < n_in / 4; i += blockDim.x) {
      const float4 v = reinterpret_cast<const float4*>(x)[i];
      squares += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
    inv_rms = rsqrtf(block_reduce<false>(squares, warp_sums) / n_in + eps);
  }
  auto* runs = reinterpret_cast<uint4*>(area);
  auto* constants = reinterpret_cast<float*>(area + 64 * static_cast<size_t>(n_blocks));
  for (int round = 0; round < n_runs; round += kStagingRuns * stride) {
    float4 v[kStagingRuns][2];  // run k's two runs of 4 elements (times gain)
    float squares = 0.0f;       // of the round's x (one_round: all of this thread's)
#pragma unroll
    for (int k = 0; k < kStagingRuns; ++k) {
      const int i = round + k * stride + static_cast<int>(threadIdx.x);
      if (i >= n_runs) break;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        // The half's code bytes 0, 1 and 2, 3 (positions 0, 2 and 1, 3) are pairs in x.
        const int block = i / 4, t = i % 4;
        const int lo = 32 * block + tensor::Operands<Block>::element(block, t, 4 * half),
                  hi = 32 * block + tensor::Operands<Block>::element(block, t, 4 * half + 1);
        float4& e = v[k][half];
        e = load_two_pairs(x, lo, hi);
        if constexpr (kNorm) {
          squares += e.x * e.x + e.y * e.y + e.z * e.z + e.w * e.w;
          const float4 g = load_two_pairs(gain, lo, hi);
          e.x *= g.x, e.y *= g.y, e.z *= g.z, e.w *= g.w;
        }
      }
    }
    // Uniform: one_round blocks take this loop once, every thread reaching the reduction.
    if (kNorm && one_round) inv_rms = rsqrtf(block_reduce<false>(squares, warp_sums) / n_in + eps);
#pragma unroll
    for (int k = 0; k < kStagingRuns; ++k) {
      const int i = round + k * stride + static_cast<int>(threadIdx.x);
      if (i >= n_runs) break;  // whole warps: n_runs and stride are multiples of 32
      uint16_t h[8];
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const float4 e = v[k][half];
        const float in_order[4] = {e.x * inv_rms, e.y * inv_rms, e.z * inv_rms, e.w * inv_rms};
#pragma unroll
        for (int p = 0; p < 4; ++p)
          h[4 * half + p] = __half_as_ushort(to_half_saturated(in_order[tensor::pair_order(p)]));
      }
      uint32_t run[4];
      float c = tensor::stage_run<Block>(h, run);
      c += __shfl_xor_sync(0xffffffffu, c, 1);
      c += __shfl_xor_sync(0xffffffffu, c, 2);
      runs[i] = make_uint4(run[0], run[1], run[2], run[3]);
      if (i % 4 == 0) constants[i / 4] = c;
    }
  }
  __syncthreads();
}

template <typename Block>
constexpr bool kTensorStreamed =
    std::is_same_v<Block, BlockQ4_0> || std::is_same_v<Block, BlockQ8_0> ||
    std::is_same_v<Block, BlockQ4_K> || std::is_same_v<Block, BlockQ5_K> ||
    std::is_same_v<Block, BlockQ6_K>;

// Super-blocks of 8 sub-blocks of 32 with a 6-bit scale and min each (Q4_K, Q5_K): their
// products share tensor_q4k_unit.
template <typename Block>
constexpr bool kScaleMinSuperBlock =
    std::is_same_v<Block, BlockQ4_K> || std::is_same_v<Block, BlockQ5_K>;

// The 32-element steps a warp takes at a time: a Q8_0 block, a pair of Q4_0 blocks, or a
// K-quant super-block.
template <typename Block>
constexpr int kTensorUnitSteps = kScaleMinSuperBlock<Block> || std::is_same_v<Block, BlockQ6_K> ? 8
                                 : std::is_same_v<Block, BlockQ4_0>                             ? 2
                                                                                                : 1;

// Where a lane's results go: acc[0][c] and acc[1][c] are rows g and g + 8 of D's column
// 2t + c. Single tokens (kColumns 1) keep column 2t, every column being x; batched steps
// (kColumns 2) keep columns 2t and 2t + 1, tokens of their own (tensor::result_token).
// `area` holds the staged x of `tokens` tokens (n_steps blocks each).
template <int kColumns>
struct TensorColumns {
  const uint8_t* area;
  int n_steps, tokens;
  // The lane's B operand: its column's token's staged run of step `step`.
  __device__ __forceinline__ uint4 run(int step) const {
    const int g = threadIdx.x % kWarp / 4, t = threadIdx.x % 4;
    const int token = kColumns == 1 ? 0 : tensor::column_token(g, tokens);
    return StagedTensorX(area, n_steps, token).runs[4 * step + t];
  }
  // The staged constant of step `step` for the token of the lane's result column c.
  __device__ __forceinline__ float constant(int step, int c) const {
    const int token = kColumns == 1 ? 0 : min(tensor::result_token(threadIdx.x % 4, c), tokens - 1);
    return StagedTensorX(area, n_steps, token).constants[step];
  }
};

// A legacy block's two mmas (operands `o`, staged step `step`) into rows g and g + 8 of the
// tile, lane (g, t): one multiply-add per row and column.
template <int kColumns>
__device__ __forceinline__ void legacy_block_product(const tensor::BlockOperands& o,
                                                     const TensorColumns<kColumns>& x, int step,
                                                     float (&acc)[2][kColumns]) {
  float sums[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  mma_of(o, 0, sums);
  mma_of(o, 1, sums);
#pragma unroll
  for (int c = 0; c < kColumns; ++c) {
    const float k = x.constant(step, c);
    acc[0][c] = fmaf(o.d, sums[c] - k, acc[0][c]);       // D[g][2t + c]
    acc[1][c] = fmaf(o.d8, sums[2 + c] - k, acc[1][c]);  // D[g + 8][2t + c]
  }
}

// Unit u of a staged chunk (its first step `first_step` of the row): Q8_0 block u.
// `pieces` is the stage (16 row pieces, kPieceStride bytes apart).
template <typename Block, int kPieceStride, int kColumns>
__device__ __forceinline__ void tensor_unit(const uint8_t* pieces, const TensorColumns<kColumns>& x,
                                            int first_step, int u, float (&acc)[2][kColumns]) {
  const int lane = threadIdx.x % kWarp, g = lane / 4, t = lane % 4;
  const int step = first_step + u;
  const uint4 xs = x.run(step);
  const uint32_t run[4] = {xs.x, xs.y, xs.z, xs.w};
  legacy_block_product(tensor::block_operands<Block>(pieces + g * kPieceStride,
                                                     pieces + (g + 8) * kPieceStride, u, t, run),
                       x, step, acc);
}

// Q4_0: unit u is blocks 2u and 2u + 1 of the staged chunk, their codes and scales read as
// tensor::Operands<BlockQ4_0>::pair_operands lays out (4 shared loads per row, not 5).
template <int kPieceStride, int kColumns>
__device__ __forceinline__ void tensor_q4_0_unit(const uint8_t* pieces,
                                                 const TensorColumns<kColumns>& x, int first_step,
                                                 int u, float (&acc)[2][kColumns]) {
  using Operands = tensor::Operands<BlockQ4_0>;
  const int lane = threadIdx.x % kWarp, g = lane / 4, t = lane % 4;
  uint32_t top[2][4], bottom[2][4];  // [even, odd block] of rows g and g + 8
  float d[2], d8[2];
  Operands::pair_operands(pieces + g * kPieceStride, u, t, top[0], top[1], d[0], d[1]);
  Operands::pair_operands(pieces + (g + 8) * kPieceStride, u, t, bottom[0], bottom[1], d8[0],
                          d8[1]);
#pragma unroll
  for (int b = 0; b < 2; ++b) {
    const int step = first_step + 2 * u + b;
    const uint4 xs = x.run(step);
    const uint32_t run[4] = {xs.x, xs.y, xs.z, xs.w};
    tensor::BlockOperands o = tensor::fragments(top[b], bottom[b], run);
    o.d = d[b], o.d8 = d8[b];
    legacy_block_product(o, x, step, acc);
  }
}

// Q4_K: sub-blocks 2j, 2j + 1 of the super-block at `block` in row 0's piece (row r's is
// r * kPieceStride further): four mmas, and each sub-block's s (and u) from the lane that
// computed them from its `head` (Operands::scale_lane). A single token's u S terms stay with
// that lane, summed in `min_terms` for its row (q4k_min_terms gathers them once per tile): 4
// shuffles and 3 FMAs fewer per pair. `step` is the even sub-block's.
template <typename Block, int kPieceStride, int kColumns>
__device__ __forceinline__ void tensor_q4k_pair(const uint8_t* block,
                                                const tensor::Operands<BlockQ4_K>::Head& head,
                                                int j, const TensorColumns<kColumns>& x, int step,
                                                float (&acc)[2][kColumns], float& min_terms) {
  using Operands = tensor::Operands<Block>;
  const int lane = threadIdx.x % kWarp, g = lane / 4, t = lane % 4;
  float s, offset;
  Operands::scale(head, 2 * j + Operands::scale_half(lane), s, offset);
  uint32_t low[4], high[4], low8[4], high8[4];
  Operands::operands(block + g * kPieceStride, j, t, low, high);
  Operands::operands(block + (g + 8) * kPieceStride, j, t, low8, high8);
  if constexpr (kColumns == 1)
    min_terms = fmaf(offset, x.constant(step + Operands::scale_half(lane), 0), min_terms);
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const uint4 xs = x.run(step + h);
    const uint32_t run[4] = {xs.x, xs.y, xs.z, xs.w};
    const tensor::BlockOperands o =
        h == 0 ? tensor::fragments(low, low8, run) : tensor::fragments(high, high8, run);
    float sums[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    mma_of(o, 0, sums);
    mma_of(o, 1, sums);
    const float s_top = __shfl_sync(0xffffffffu, s, Operands::scale_lane(g, h));
    const float s_bottom = __shfl_sync(0xffffffffu, s, Operands::scale_lane(g + 8, h));
    if constexpr (kColumns == 1) {
      acc[0][0] = fmaf(s_top, sums[0], acc[0][0]);
      acc[1][0] = fmaf(s_bottom, sums[2], acc[1][0]);
    } else {  // every column's token has its own S
      const float u_top = __shfl_sync(0xffffffffu, offset, Operands::scale_lane(g, h));
      const float u_bottom = __shfl_sync(0xffffffffu, offset, Operands::scale_lane(g + 8, h));
#pragma unroll
      for (int c = 0; c < kColumns; ++c) {
        const float x_sum = x.constant(step + h, c);
        acc[0][c] = fmaf(-u_top, x_sum, fmaf(s_top, sums[c], acc[0][c]));
        acc[1][c] = fmaf(-u_bottom, x_sum, fmaf(s_bottom, sums[2 + c], acc[1][c]));
      }
    }
  }
}

// Q4_K: unit u is super-block u of the staged chunk (its first step `first_step` of the row),
// its 4 pairs of sub-blocks in turn. A lane reads its scale row's head once for all of them;
// a warp per pair of sub-blocks read it once per pair, 4 times the loads and conversions
// (8B Q4_K tg128 412 -> 438 t/s with the 8-byte code loads, docs/perf.md session 19).
template <typename Block, int kPieceStride, int kColumns>
__device__ __forceinline__ void tensor_q4k_unit(const uint8_t* pieces,
                                                const TensorColumns<kColumns>& x, int first_step,
                                                int u, float (&acc)[2][kColumns],
                                                float& min_terms) {
  using Operands = tensor::Operands<Block>;
  const uint8_t* block = pieces + u * static_cast<int>(sizeof(Block));
  const typename Operands::Head head =
      Operands::head(block + Operands::scale_row(threadIdx.x % kWarp) * kPieceStride);
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    tensor_q4k_pair<Block, kPieceStride>(block, head, j, x, first_step + 8 * u + 2 * j, acc,
                                         min_terms);
  }
}

// Rows whose bytes are not whole 16-byte runs (Q6_K rows of other than a multiple of 8
// super-blocks: widths 3072, 2304, ...) are staged from the 16-byte boundary at or before
// each piece, so a piece starts `lead` bytes (even, < 16) into its slot; the slot's last word
// holds lead (matvec_stream.cuh writes it with the copies).
template <int kPieceStride>
__device__ __forceinline__ uint32_t piece_lead(const uint8_t* slot) {
  return *reinterpret_cast<const uint32_t*>(slot + kPieceStride - 4);
}

// Q6_K: unit u is super-block u of the staged chunk (its first step `first_step` of the row),
// a step at a time: two mmas, one per half of 16 elements, each scaled by d times its own
// scale (tensor::Operands<BlockQ6_K>: signed codes, no constant).
template <int kPieceStride, int kColumns>
__device__ __forceinline__ void tensor_q6k_unit(const uint8_t* pieces,
                                                const TensorColumns<kColumns>& x, int first_step,
                                                int u, float (&acc)[2][kColumns]) {
  using Operands = tensor::Operands<BlockQ6_K>;
  const int lane = threadIdx.x % kWarp, g = lane / 4, t = lane % 4;
  const uint8_t* top_slot = pieces + g * kPieceStride;
  const uint8_t* bottom_slot = pieces + (g + 8) * kPieceStride;
  const uint32_t at = u * static_cast<uint32_t>(sizeof(BlockQ6_K));
  const uint32_t top_at = piece_lead<kPieceStride>(top_slot) + at;
  const uint32_t bottom_at = piece_lead<kPieceStride>(bottom_slot) + at;
#pragma unroll
  for (int s = 0; s < 8; ++s) {
    uint32_t top[4], bottom[4];
    float scale[2], scale8[2];  // rows g and g + 8, per half
    Operands::operands(top_slot, top_at, s, t, top, scale);
    Operands::operands(bottom_slot, bottom_at, s, t, bottom, scale8);
    const uint4 xs = x.run(first_step + 8 * u + s);
    const uint32_t run[4] = {xs.x, xs.y, xs.z, xs.w};
    const tensor::BlockOperands o = tensor::fragments(top, bottom, run);
#pragma unroll
    for (int m = 0; m < 2; ++m) {
      float sums[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      mma_of(o, m, sums);
#pragma unroll
      for (int c = 0; c < kColumns; ++c) {
        acc[0][c] = fmaf(scale[m], sums[c], acc[0][c]);       // D[g][2t + c]
        acc[1][c] = fmaf(scale8[m], sums[2 + c], acc[1][c]);  // D[g + 8][2t + c]
      }
    }
  }
}

// Single-token Q4_K: rows g and g + 8's sums of u S, gathered from the lanes that decoded
// them (row r's are in lanes scale_lane(r, 0) and scale_lane(r, 1)). Every lane calls it.
__device__ __forceinline__ void q4k_min_terms(float min_terms, float& top, float& bottom) {
  using Operands = tensor::Operands<BlockQ4_K>;
  const int g = threadIdx.x % kWarp / 4;
  const auto row_sum = [&](int row) {
    return __shfl_sync(0xffffffffu, min_terms, Operands::scale_lane(row, 0)) +
           __shfl_sync(0xffffffffu, min_terms, Operands::scale_lane(row, 1));
  };
  top = row_sum(g), bottom = row_sum(g + 8);
}

}  // namespace concord::cuda::matvec_detail
