// The single-token matrix-vector kernel of the wide-step formats (Q4_0, Q8_0, Q4_K), with the
// weights streamed through shared memory.
//
// Why: a lane of the register-fed kernels (matvec_wide.cuh) issues the loads of one step of
// its rows and then waits for them, so the bytes in flight per SM are bounded by registers
// and occupancy; Nsight Compute showed the 8B Q4_0 gate/up kernel waiting on memory 64% of
// the time at ~1.5 TB/s, and the 4-byte loads of 18- or 34-byte blocks made 73% of its L1
// sectors excess. Here the block's threads copy whole row pieces with 16-byte asynchronous
// copies (cp.async.cg: coalesced, past L1) into a ring of stages (4 of ~18 KB), all but one
// of them in flight while the warps decode the oldest from shared memory.
// Weights are never written by a kernel, so the first copies are issued before the
// dependency wait. What limits the fp32 decoding instead is its instruction count (~3 per
// 4-bit element on 16 warps per SM; 8 with the staged activations of 14336-wide rows), so
// with it matvec.cu gives the kernel only the launches where it measured faster; the tensor
// products take every launch that fits.
//
// A tile is kTileRows row pieces of one job (gated launches: kTileRows / 2 gate rows and the
// matching up rows); a stage holds the tile's pieces of one chunk of kChunkSteps 32-element
// steps. Blocks walk tiles gridDim.x apart and each tile's chunks in order, as one stream of
// stages. What the warps do with a stage is the kernel's Math: ScalarStream decodes codes to
// fp32 (every streamed format), TensorStream multiplies on tensor cores (Q4_0, Q8_0, Q4_K;
// matvec_tensor.cuh; the default, see matvec.cu). Each stages x its own way and leaves per-warp
// partial sums of the tile's rows, which the kernel adds up and stores.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <type_traits>

#include "backends/cuda/kernels.cuh"
#include "backends/cuda/matvec_tensor.cuh"
#include "backends/cuda/matvec_wide.cuh"
#include "backends/cuda/timeline.cuh"

namespace concord::cuda::matvec_detail {

// 16 bytes global -> shared, asynchronously and bypassing L1 (cp.async.cg, sm_80 on).
__device__ __forceinline__ void copy16_async(void* shared_dst, const void* global_src) {
  const auto dst = static_cast<uint32_t>(__cvta_generic_to_shared(shared_dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(global_src) : "memory");
}
// The same, copying only the first `src_bytes` (1..16) and zero-filling the rest: a piece
// staged from the 16-byte boundary before it reads no byte past its row.
__device__ __forceinline__ void copy16_async(void* shared_dst, const void* global_src,
                                             uint32_t src_bytes) {
  const auto dst = static_cast<uint32_t>(__cvta_generic_to_shared(shared_dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(global_src),
               "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void commit_copies() {
  asm volatile("cp.async.commit_group;" ::: "memory");
}
// Waits until at most `kPending` of this thread's committed copy groups are unfinished.
template <int kPending>
__device__ __forceinline__ void await_copies() {
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending) : "memory");
}

constexpr int kStreamWarps = 8;
constexpr int kTileRows = 16;
constexpr int kDefaultStreamStages = 4;

template <typename Block>
constexpr bool kStreamed = std::is_same_v<Block, BlockQ4_0> || std::is_same_v<Block, BlockQ8_0> ||
                           std::is_same_v<Block, BlockQ4_K>;

// 32-element steps of a block: 1 for the legacy formats, 8 for the K-quants' super-blocks.
template <typename Block>
constexpr int kBlockSteps = kScaleMinSuperBlock<Block> || std::is_same_v<Block, BlockQ6_K> ? 8 : 1;

// Formats whose rows need not be whole 16-byte runs: Q6_K (210-byte super-blocks). Their
// pieces are staged from the 16-byte boundary at or before them (matvec_tensor.cuh's
// piece_lead); every other streamed format's rows of n_in % 256 == 0 are whole runs.
template <typename Block>
constexpr bool kUnalignedRows = std::is_same_v<Block, BlockQ6_K>;

// Bytes of a row of `n_steps` 32-element steps (whole blocks).
template <typename Block>
__host__ __device__ constexpr int64_t stream_row_bytes(int64_t n_steps) {
  return n_steps / kBlockSteps<Block> * static_cast<int64_t>(sizeof(Block));
}

// StreamLayout<Block, C, S, P>: stages of C 32-element steps of each of a tile's rows, a ring
// of S; each row's piece is followed by P bytes of padding (see TensorStream).
template <typename Block, int C, int S, int P = 0>
struct StreamLayout {
  static constexpr int kChunkSteps = C;
  static constexpr int kStages = S;
  // A row's piece of one stage: whole blocks and a multiple of 16 bytes.
  static constexpr int kPieceBytes = static_cast<int>(stream_row_bytes<Block>(C));
  static_assert(S >= 2 && C % kBlockSteps<Block> == 0 && kPieceBytes % 16 == 0 && P % 16 == 0,
                "a stage in flight; pieces of whole blocks and 16-byte runs, at 16-byte aligned "
                "strides");
  // Unaligned rows: a piece's lead (< 16 bytes) and the slot's last word, which holds it.
  static_assert(!kUnalignedRows<Block> || P >= 32, "room for a piece's lead and its word");
  static constexpr int kPieceStride = kPieceBytes + P;  // from one row's piece to the next
  static constexpr int kStageBytes = kTileRows * kPieceStride;
};

// Ring stages that a launch's blocks use: the most chunks of one tile any block takes, up to
// `stages`, where that is at least 2 and tiles are not split into parts. The 8B Q4_0 O
// projection (a tile of 2 chunks a block) then holds 2 stages, and a gate/up block fits
// beside each of its blocks and starts its copies before O ends: 8B Q4_0 tg128 +2.9% on an
// H200; on an H100 +2-3% against the same build keeping every stage, in two calls. Blocks
// of one item or of a part (1B Q/K/V, O and down) keep every stage: with 1 or 2, 1B ran
// 2-10% slower (docs/perf.md, session 25). Host and kernel agree through this one function.
__host__ __device__ constexpr int ring_stages(int stages, int n_tiles, int blocks, int parts,
                                              int n_chunks) {
  const int tiles = (n_tiles + blocks - 1) / blocks;
  const int items = tiles * n_chunks;
  return parts > 1 || items < 2 || items > stages ? stages : items;
}

// The fp32 products (StepDecoder): warp w decodes rows R (w % kRowGroups) .. + R of the tile
// at the step (w / kRowGroups) * 32 + lane of the chunk, so each staged activation load
// serves R rows. Activations are staged as in matvec_wide.cuh.
template <typename Block, int R>
struct ScalarStream {
  static_assert(kTileRows % R == 0 && kTileRows / R <= kStreamWarps,
                "every warp on whole rows of the tile");
  using WeightBlock = Block;
  using Decoder = StepDecoder<Block>;
  static constexpr int kRowGroups = kTileRows / R;
  static constexpr int kColumnGroups = kStreamWarps / kRowGroups;  // partial sums per row
  using Layout = StreamLayout<Block, kWarp * kColumnGroups, kDefaultStreamStages>;

  static constexpr int kTokenSlots = 1;  // single tokens only
  static size_t activation_bytes(int64_t n_in, int) { return staged_bytes(n_in); }
  // Stages x (times the norm's gain); returns the scale the sums still need (1 / rms).
  template <bool kNorm>
  static __device__ float stage(const float* x, const Jobs& jobs, int64_t n_in, uint8_t* area) {
    const float squares = stage_activations<Decoder, kStreamWarps, kNorm>(
        x, jobs.norm_weight, n_in, reinterpret_cast<float*>(area));
    return kNorm ? rsqrtf(squares / n_in + jobs.norm_eps) : 1.0f;
  }

  int first_row, column, step_in_chunk;
  float acc[R];
  __device__ ScalarStream() {
    const int warp = threadIdx.x / kWarp;
    first_row = R * (warp % kRowGroups), column = warp / kRowGroups;
    step_in_chunk = kWarp * column + threadIdx.x % kWarp;
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] = 0.0f;
  }
  // acc += this lane's step of the staged chunk `chunk` (of a row of n_steps).
  __device__ __forceinline__ void accumulate(const uint8_t* stage, int chunk, int n_steps,
                                             const uint8_t* area, int) {
    const int step = chunk * Layout::kChunkSteps + step_in_chunk;
    if (step >= n_steps) return;
    const auto* words = reinterpret_cast<const uint32_t*>(stage);
    typename Decoder::Raw raw[R];
#pragma unroll
    for (int r = 0; r < R; ++r)
      raw[r] =
          Decoder::load_shared(words + (first_row + r) * Layout::kPieceStride / 4, step_in_chunk);
    float xs[2][16], xsum[2];
    load_staged_step<Decoder>(reinterpret_cast<const float*>(area) + step * kStagedStride, xs,
                              xsum);
    accumulate_step<Block, R>(raw, step, xs, xsum, acc);
  }
  // partial[column][0][row] = the warp's sums of the tile's rows; starts afresh.
  __device__ __forceinline__ void flush(float (*partial)[kTokenSlots][kTileRows]) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const float total = warp_sum(acc[r]);
      if (threadIdx.x % kWarp == 0) partial[column][0][first_row + r] = total;
      acc[r] = 0.0f;
    }
  }
};

// The tensor-core products (matvec_tensor.cuh): warp w takes units w, w + 8, ... of the
// chunk (kTensorUnitSteps: a Q8_0 block, a pair of Q4_0 blocks or a Q4_K super-block) for all 16
// rows; lane (g, t) keeps the sums of rows g and g + 8: of x, or (kBatched) of tokens 2t and 2t + 1
// of up to 8.
template <typename Block, int C, bool kBatched, int S = kDefaultStreamStages>
struct TensorStream {
  using WeightBlock = Block;
  static constexpr int kColumnGroups = kStreamWarps;
  static constexpr int kColumns = kBatched ? 2 : 1;
  static constexpr int kTokenSlots = kBatched ? kMaxMatvecTokens : 1;
  static_assert(kMaxMatvecTokens <= 8, "a token per column of the mma's B");
  // Lane (g, t) loads words of row g's piece near t (Q4_0, Q6_K) or 2t (Q8_0, Q4_K) of the
  // unit. Unpadded pieces of 1152 or 1088 bytes start the 8 rows g in 1 or 2 banks (8- or 4-way
  // conflicts on every A load); 16 bytes of padding start row g 4g words further mod 32, so a
  // load's 32 words lie in 32 banks (Q4_0) or 16 (2-way; lanes t read every other word).
  // Q6_K's pieces of 1680 bytes take 32: 12g words further, 32 banks (16 would give 8g, 2-way),
  // and room for a lead of up to 14 bytes (kUnalignedRows).
  using Layout = StreamLayout<Block, C, S, std::is_same_v<Block, BlockQ6_K> ? 32 : 16>;

  static size_t activation_bytes(int64_t n_in, int tokens) {
    return tensor_staged_bytes(n_in, tokens);
  }
  // Stages each token's x; the norm, if any, is applied there.
  template <bool kNorm>
  static __device__ float stage(const float* x, const Jobs& jobs, int64_t n_in, uint8_t* area) {
    for (int token = 0; token < (kBatched ? jobs.tokens : 1); ++token) {
      stage_tensor_activations<Block, kNorm>(x + token * n_in, jobs.norm_weight, jobs.norm_eps,
                                             n_in, area + tensor_staged_bytes(n_in, token));
    }
    return 1.0f;
  }

  float acc[2][kColumns] = {};  // rows g and g + 8, columns 2t (+ 1)
  float min_terms = 0.0f;       // single-token Q4_K: see tensor_q4k_unit
  __device__ __forceinline__ void accumulate(const uint8_t* stage, int chunk, int n_steps,
                                             const uint8_t* area, int tokens) {
    constexpr int kUnitSteps = kTensorUnitSteps<Block>, kUnits = C / kUnitSteps;
    static_assert(kUnits % kStreamWarps == 0, "every warp takes the same units");
    const TensorColumns<kColumns> x{area, n_steps, tokens};
    const int warp = threadIdx.x / kWarp, first_step = chunk * C;
    const auto unit = [&](int u) {
      if constexpr (kScaleMinSuperBlock<Block>) {
        tensor_q4k_unit<Block, Layout::kPieceStride>(stage, x, first_step, u, acc, min_terms);
      } else if constexpr (std::is_same_v<Block, BlockQ6_K>) {
        tensor_q6k_unit<Layout::kPieceStride>(stage, x, first_step, u, acc);
      } else if constexpr (std::is_same_v<Block, BlockQ4_0>) {
        tensor_q4_0_unit<Layout::kPieceStride>(stage, x, first_step, u, acc);
      } else {
        tensor_unit<Block, Layout::kPieceStride>(stage, x, first_step, u, acc);
      }
    };
    // Only a row's last chunk can be partial: the others skip the bounds check per unit.
    if (first_step + C <= n_steps) {
#pragma unroll
      for (int i = 0; i < kUnits / kStreamWarps; ++i) unit(warp + kStreamWarps * i);
    } else {
#pragma unroll
      for (int i = 0; i < kUnits / kStreamWarps; ++i) {
        if (first_step + kUnitSteps * (warp + kStreamWarps * i) >= n_steps) break;
        unit(warp + kStreamWarps * i);
      }
    }
  }
  // partial[warp][token][row]: single tokens from the lanes of column 0; batched steps from
  // every lane (columns past the batch are written and never read).
  __device__ __forceinline__ void flush(float (*partial)[kTokenSlots][kTileRows]) {
    const int warp = threadIdx.x / kWarp, g = threadIdx.x % kWarp / 4, t = threadIdx.x % 4;
    if constexpr (!kBatched && kScaleMinSuperBlock<Block>) {
      float top, bottom;
      q4k_min_terms(min_terms, top, bottom);
      acc[0][0] -= top, acc[1][0] -= bottom;
      min_terms = 0.0f;
    }
    if (kBatched || t == 0) {
#pragma unroll
      for (int c = 0; c < kColumns; ++c) {
        const int token = kBatched ? tensor::result_token(t, c) : 0;
        partial[warp][token][g] = acc[0][c];
        partial[warp][token][g + 8] = acc[1][c];
      }
    }
#pragma unroll
    for (int c = 0; c < kColumns; ++c) acc[0][c] = acc[1][c] = 0.0f;
  }
};

// 4 rows per warp for the 4-bit formats (each staged activation serves 4 rows: their rows are
// cheap to read, activations are not), 2 for Q8_0 (stages of the same ~18 KB); 4 stages (3 or
// 5 measured slower, 8B Q4_0 tg128 351 -> 339; 2 rows per warp for Q4_0, 320).
template <typename Block>
using DefaultScalarStream = ScalarStream<Block, std::is_same_v<Block, BlockQ8_0> ? 2 : 4>;
// Stages of the same ~18 KB: 64 Q4_0 blocks, 32 Q8_0 blocks or 8 Q4_K super-blocks a row.
// Q6_K's pieces are whole 16-byte runs only from 8 super-blocks on (210 bytes each): its
// stages of ~27 KB come 3 to a ring, where 4 would leave room for one block per SM.
template <typename Block, bool kBatched = false,
          int S = std::is_same_v<Block, BlockQ6_K> ? 3 : kDefaultStreamStages>
using DefaultTensorStream =
    TensorStream<Block, std::is_same_v<Block, BlockQ8_0> ? 32 : 64, kBatched, S>;
// Launches of few tiles (8B Q/K/V, O: a tile or two per block) have few stages to keep in
// flight; 3 stages fit 3 blocks per SM where 4 fit 2, so every tile gets a block of its own.
template <typename Block>
using FewTilesTensorStream = DefaultTensorStream<Block, false, 3>;

// How a launch divides its tiles (kernels.cuh's MatvecScratch). With parts > 1 (single
// tokens, no norm, not gated, a tile per part-block): block b takes part b % parts of tile
// b / parts, a run of the tile's chunks, and stages only the x those chunks multiply.
struct TileParts {
  float* partials = nullptr;     // [block][kTileRows]: a part's sums of its tile's rows
  unsigned* arrivals = nullptr;  // [tile]: parts published, zero between launches
  int parts = 1;
};

// A part's sums of its tile's rows, block_sum(0, r), go to split.partials; the last of the
// tile's parts to arrive adds up every part's sums in part order (the same order whichever
// block that is) and stores them through store(tile, tokens, value, up).
template <typename BlockSum, typename Store>
__device__ void store_parts(const TileParts& split, int tile, BlockSum block_sum, Store store) {
  float* mine = split.partials + static_cast<int64_t>(blockIdx.x) * kTileRows;
  for (int r = threadIdx.x; r < kTileRows; r += blockDim.x) mine[r] = block_sum(0, r);
  if (!last_to_arrive(&split.arrivals[tile], split.parts)) return;
  const float* sums = split.partials + static_cast<int64_t>(tile) * split.parts * kTileRows;
  const auto total = [&](int, int r) {
    float sum = 0.0f;
    for (int p = 0; p < split.parts; ++p) sum += __ldcg(sums + p * kTileRows + r);
    return sum;
  };
  store(tile, 1, total, [](int, int) { return 0.0f; });
}

// Which launches may split their tiles: single tokens with neither a norm (which needs all
// of x) nor a gate.
template <typename Math, Epilogue E, bool kNorm>
constexpr bool kTileSplits =
    Math::kTokenSlots == 1 && !kNorm && E != Epilogue::SiluGate && E != Epilogue::GeluGate;

template <typename Math, Epilogue E, bool kNorm>
__global__ void __launch_bounds__(kWarp* kStreamWarps)
    matvec_stream_kernel(Jobs jobs, int64_t n_in, const float* __restrict__ x, TileParts split,
                         TimelineSink timeline) {
  using Layout = typename Math::Layout;
  constexpr bool kGated = E == Epilogue::SiluGate || E == Epilogue::GeluGate;
  constexpr int kOutputs = kGated ? kTileRows / 2 : kTileRows;
  constexpr bool kUnaligned = kUnalignedRows<typename Math::WeightBlock>;
  // 16-byte copies a piece: one more where it may start off a 16-byte boundary.
  constexpr int kSlotChunks = Layout::kPieceBytes / 16 + (kUnaligned ? 1 : 0);
  constexpr bool kSplits = kTileSplits<Math, E, kNorm>;
  __shared__ float partial[Math::kColumnGroups][Math::kTokenSlots][kTileRows];

  const int n_jobs = kGated ? 1 : jobs.count;
  // Counts fit 32 bits (rows per matrix < 2^31); 64-bit divisions would cost ~100 instructions.
  const int n_steps = static_cast<int>(n_in / 32);
  const int64_t row_bytes = stream_row_bytes<typename Math::WeightBlock>(n_steps);
  const int n_chunks = (n_steps + Layout::kChunkSteps - 1) / Layout::kChunkSteps;
  const int n_tiles = static_cast<int>(jobs.n_groups);
  const int parts = split.parts, part = static_cast<int>(blockIdx.x) % parts;
  // Shared memory: the ring's stages (item % Layout::kStages, below ring_stages), then x.
  extern __shared__ float4 stream_storage[];
  uint8_t* stages = reinterpret_cast<uint8_t*>(stream_storage);
  uint8_t* activations =
      stages + ring_stages(Layout::kStages, n_tiles, static_cast<int>(gridDim.x), parts, n_chunks) *
                   Layout::kStageBytes;
  // This block's tiles (gridDim.x apart) and, of each, chunks [first_chunk, end_chunk).
  const int first_tile = static_cast<int>(blockIdx.x) / parts;
  const int first_chunk = part * n_chunks / parts, end_chunk = (part + 1) * n_chunks / parts;
  const int my_tiles = parts > 1              ? (first_tile < n_tiles ? 1 : 0)
                       : n_tiles > first_tile ? (n_tiles - 1 - first_tile) / gridDim.x + 1
                                              : 0;
  const int n_items = my_tiles * (end_chunk - first_chunk);

  // Stage `item % Layout::kStages` <- the tile's pieces of chunk `chunk` (the item's).
  const auto issue = [&](int item, int tile, int chunk) {
    if (item < n_items) {
      int64_t job_first_tile;
      const Job job = job_of_group(jobs, n_jobs, tile, job_first_tile);
      const int64_t row0 = (tile - job_first_tile) * kOutputs;
      const int offset = chunk * Layout::kPieceBytes;
      const int bytes = static_cast<int>(min(int64_t{Layout::kPieceBytes}, row_bytes - offset));
      uint8_t* stage = stages + item % Layout::kStages * Layout::kStageBytes;
      // Pieces past kOutputs of a gated tile are the up matrix's rows; rows past the end
      // re-read the last one (their sums are not stored). Each branch finds its piece's row
      // after its own bounds check: in the other order the measured formats' kernels compile
      // differently (ptxas).
      for (int k = threadIdx.x; k < kTileRows * kSlotChunks; k += blockDim.x) {
        const int piece = k / kSlotChunks, at = 16 * (k % kSlotChunks);
        if constexpr (kUnaligned) {
          // From the 16-byte boundary at or before the piece (matrices are 16-byte aligned).
          const int64_t row = min(row0 + piece % kOutputs, job.n_out - 1);
          const void* matrix = kGated && piece >= kOutputs ? jobs.job[1].w : job.w;
          const uint8_t* src = static_cast<const uint8_t*>(matrix) + row * row_bytes + offset;
          const int lead = static_cast<int>(reinterpret_cast<uintptr_t>(src) % 16);
          uint8_t* slot = stage + piece * Layout::kPieceStride;
          if (at == 0) *reinterpret_cast<uint32_t*>(slot + Layout::kPieceStride - 4) = lead;
          if (at >= lead + bytes) continue;
          copy16_async(slot + at, src - lead + at,
                       static_cast<uint32_t>(min(16, lead + bytes - at)));
        } else {
          if (at >= bytes) continue;
          const int64_t row = min(row0 + piece % kOutputs, job.n_out - 1);
          const void* matrix = kGated && piece >= kOutputs ? jobs.job[1].w : job.w;
          copy16_async(stage + piece * Layout::kPieceStride + at,
                       static_cast<const uint8_t*>(matrix) + row * row_bytes + offset + at);
        }
      }
    }
    commit_copies();  // empty groups too: every thread counts the same groups
  };
  // The item issued next, as (tile, chunk).
  int next_item = 0, next_tile = first_tile, next_chunk = first_chunk;
  const auto issue_next = [&] {
    issue(next_item, next_tile, next_chunk);
    ++next_item;
    if (++next_chunk == end_chunk) next_chunk = first_chunk, next_tile += gridDim.x;
  };

  __shared__ BlockTimes times;
  start_times(timeline, times);
  // The first stages' copies overlap the previous kernel's tail (8B Q4_0 tg128 +5% against
  // issuing them after the wait).
  for (int i = 0; i < Layout::kStages - 1; ++i) issue_next();
  await_previous_and_allow_next();  // x is the previous kernel's output
  mark_time(timeline, times.waited);
  // x of this block's chunks, indexed from the first: whole rows unless split.
  const int first_step = first_chunk * Layout::kChunkSteps;
  const int part_steps = min(n_steps, end_chunk * Layout::kChunkSteps) - first_step;
  const float scale = Math::template stage<kNorm>(x + int64_t{32} * first_step, jobs,
                                                  int64_t{32} * part_steps, activations);
  mark_time(timeline, times.first_phase);  // x staged

  // Stores the tile's rows: value(token, r) (and, gated, up(token, r)) for its outputs r.
  const auto store_tile = [&](int tile, int tokens, auto value, auto up) {
    for (int i = threadIdx.x; i < kOutputs * tokens; i += blockDim.x) {
      const int token = i / kOutputs, r = i % kOutputs;
      int64_t job_first_tile;
      const Job job = job_of_group(jobs, n_jobs, tile, job_first_tile);
      const int64_t row = (tile - job_first_tile) * kOutputs + r;
      if (row < job.n_out)
        store_output<E>(job.out + token * job.n_out + row, value(token, r) * scale,
                        up(token, r) * scale);
    }
  };
  // The warps' sums of row r of the tile just flushed (kOutputs + r: its up row).
  const auto block_sum = [&](int token, int r) {
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < Math::kColumnGroups; ++c) sum += partial[c][token][r];
    return sum;
  };
  const auto up_sum = [&](int token, int r) {
    if constexpr (kGated) return block_sum(token, kOutputs + r);
    return 0.0f;
  };

  Math math;
  int tile = first_tile, chunk = first_chunk;
  for (int item = 0; item < n_items; ++item) {
    await_copies<Layout::kStages - 2>();
    __syncthreads();  // every thread's copies of this item landed; the oldest stage is free
    issue_next();
    math.accumulate(stages + item % Layout::kStages * Layout::kStageBytes, chunk - first_chunk,
                    part_steps, activations, jobs.tokens);
    if (++chunk < end_chunk) continue;
    // The tile's chunks are done: sum its rows, store, start afresh.
    math.flush(partial);
    __syncthreads();
    if constexpr (kSplits) {
      if (parts > 1) store_parts(split, tile, block_sum, store_tile);
    }
    // Outputs are token-major: out[token * n_out + row] (single tokens: token 0).
    if (parts == 1) store_tile(tile, Math::kTokenSlots == 1 ? 1 : jobs.tokens, block_sum, up_sum);
    // `partial` is next written after the following item's barrier.
    chunk = first_chunk;
    tile += gridDim.x;
  }
  record_block(timeline, TimelineKernel::StreamMatvec, times);
}

// Launches the streaming kernel over `jobs`; returns false, launching nothing, where it does
// not apply: rows not of whole super-blocks of 256 (n_in % 256), or not of whole 16-byte runs
// where the format needs them (kUnalignedRows), matrices not 16-byte aligned, or activations
// too long to stage. A launch of fewer tiles than resident blocks
// splits its tiles into parts of whole chunks, a block each, where kTileSplits allows and
// `scratch` has room.
template <typename Math, Epilogue E, bool kNorm>
bool launch_stream(Jobs jobs, int64_t n_in, const float* x, cudaStream_t stream,
                   const MatvecScratch& scratch = {}) {
  constexpr bool kGated = E == Epilogue::SiluGate || E == Epilogue::GeluGate;
  // Rows of whole 16-byte runs, or of a format staged from the boundary before each piece.
  using Block = typename Math::WeightBlock;
  if (n_in % 256 != 0 || (!kUnalignedRows<Block> && stream_row_bytes<Block>(n_in / 32) % 16 != 0))
    return false;
  for (int j = 0; j < (kGated ? 2 : jobs.count); ++j) {
    if (reinterpret_cast<uintptr_t>(jobs.job[j].w) % 16 != 0) return false;
  }
  using Layout = typename Math::Layout;
  const size_t smem = static_cast<size_t>(Layout::kStages) * Layout::kStageBytes +
                      Math::activation_bytes(n_in, jobs.tokens);
  if (smem > kMaxStagedBytes) return false;
  const auto kernel = matvec_stream_kernel<Math, E, kNorm>;
  assign_groups(jobs, kGated ? kTileRows / 2 : kTileRows, kGated);
  if (jobs.n_groups == 0) return true;
  const int64_t resident = resident_blocks(kernel, kWarp * kStreamWarps, smem, INT64_MAX);
  const int64_t n_chunks = (n_in / 32 + Layout::kChunkSteps - 1) / Layout::kChunkSteps;
  TileParts split;
  if constexpr (kTileSplits<Math, E, kNorm>) {
    const int64_t parts =
        std::min({n_chunks, resident / jobs.n_groups, int64_t{scratch.max_blocks} / jobs.n_groups});
    if (parts > 1) split = {scratch.partials, scratch.arrivals, static_cast<int>(parts)};
  }
  const auto blocks = static_cast<unsigned>(std::min(resident, jobs.n_groups * split.parts));
  const int ring = ring_stages(Layout::kStages, static_cast<int>(jobs.n_groups),
                               static_cast<int>(blocks), split.parts, static_cast<int>(n_chunks));
  const size_t launch_smem =
      smem - static_cast<size_t>(Layout::kStages - ring) * Layout::kStageBytes;
  check(launch_dependent(kernel, blocks, kWarp * kStreamWarps, launch_smem, stream, jobs, n_in, x,
                         split, next_timeline_sink()),
        "matvec");
  return true;
}

}  // namespace concord::cuda::matvec_detail
