// Matrix-vector products for decode steps: the host side of matvec_kernel.cuh (which
// tiling each weight type takes, and the fused forms' job lists).
#include <cstdlib>
#include <string>
#include <type_traits>

#include "backends/cuda/kernels.cuh"
#include "backends/cuda/matvec_kernel.cuh"
#include "backends/cuda/matvec_stream.cuh"
#include "backends/cuda/matvec_wide.cuh"

namespace concord::cuda {
namespace {

using namespace matvec_detail;

// Tilings, chosen from bench/cuda_matvec_bench's grid and same-call A/Bs on an H100
// (docs/perf.md). Single-token steps:
// - plain float rows: 8 rows per warp group split over 2 warps, or over 4 when the launch has
//   few rows (<= 4096: more warps in flight); with weights that bypass L1 these beat 4 rows
//   per warp (8B F16 tg128 166 -> 171.5 t/s). (F16 rows through the staged kernel, in runs of
//   8 per lane, measured slower: 8B tg128 139.5 against 144.)
// - Q4_0, Q8_0 and Q4_K (and, with CONCORD_CUDA_TENSOR_DECODE=all, Q5_K and Q6_K: see
//   tensor_decodes): the streaming kernel multiplying on tensor cores wherever it applies
//   (matvec_stream.cuh, matvec_tensor.cuh; 8B tg128 Q4_0 357 -> 392 t/s, Q4_K 320 -> 348,
//   Q8_0 level, same-call A/B, docs/perf.md session 12; Q6_K's rows, not whole 16-byte runs
//   unless n_in % 2048 == 0, are staged from the boundary before each piece, sessions 31-32).
//   Single-token launches of few tiles (<= 6144 rows shorter than 8192: 8B Q/K/V, O) take 3 stages,
//   3 blocks per SM (8B tg128 Q4_0 +2.6%, Q4_K +3%, Q8_0 +3%, session 13); 3 or 5 stages for the
//   gated launches, or chunks of half the steps, measured level or slower. With
//   CONCORD_CUDA_TENSOR_DECODE=0, or where it does not apply, the fp32 paths: gated launches
//   of rows shorter than 8192 and other launches of rows shorter than 4096 stream their
//   weights (ScalarStream); other rows shorter than 8192 take matvec_wide.cuh's kernel with
//   staged activations (8 rows over 2 warps; Q4_K 4 over 1);
//   launches of <= 6144 rows of >= 4096 elements (8B Q/K/V, O) take 8 rows over 4 warps in
//   blocks of 8, twice the warps for grids that fill under half the device (Q4_0 tg128 +3%,
//   Q4_K +2.6%, Q8_0 level; rows of 2048 have too few steps for 4 warps). Longer rows (down
//   projections), whose staging would cost as much as their rows, take matvec_kernel.cuh's
//   with activations from global memory (8 rows over 4 warps; Q4_K 4 over 2).
// - other formats: the 8-element loop with one row per warp.
// Gated launches take half as many rows (each computes a gate and an up row). Batched steps
// (up to 8 tokens) take one row per warp.
template <typename Block>
constexpr bool kFloatRows =
    std::is_same_v<Block, decode::F32Element> || std::is_same_v<Block, decode::F16Element> ||
    std::is_same_v<Block, decode::BF16Element>;
template <typename Block>
using StagedTiling =
    std::conditional_t<std::is_same_v<Block, BlockQ4_K>, WideTiling<4, 1, 4>, WideTiling<8, 2, 4>>;
using SmallStagedTiling = WideTiling<8, 4, 8>;
constexpr int64_t kSmallLaunchRows = 6144, kSmallLaunchMinWidth = 4096;
template <typename Block>
using LongRowTiling = std::conditional_t<std::is_same_v<Block, BlockQ4_K>, Tiling<4, 2, 1, true>,
                                         Tiling<8, 4, 1, true>>;
constexpr int64_t kLongRows = 8192;
using FloatTiling = Tiling<8, 2, 2>;
using FloatTilingFewRows = Tiling<8, 4, 2>;
using NarrowTiling = Tiling<1, 1, 4>;
using BatchTiling = Tiling<1, 1, 2>;
constexpr int64_t kFewRows = 4096;

// Launches the streaming kernel takes (matvec_stream.cuh; same-call A/B, docs/perf.md):
// gated ones (gate/up) of rows under kLongRows, and the others of rows under 4096 (1B Q/K/V,
// O). The register-fed kernels stay faster for 8B Q/K/V, O and down projections.
bool streams(bool gated, int64_t n_in) {
  return n_in < (gated ? kLongRows : kSmallLaunchMinWidth);
}

// Whether the switch `variable` is on: unless it is set to "0".
bool switched_on(const char* variable) {
  const char* v = std::getenv(variable);
  return v == nullptr || std::string(v) != "0";
}

// Whether a format's decode products (single tokens, and batched steps of up to 8 with a token
// per column of the mma) multiply on tensor cores. By default Q4_0, Q8_0 and Q4_K, measured on
// GPUs. CONCORD_CUDA_TENSOR_DECODE=all adds Q5_K and Q6_K (the K-quant mixes' other formats),
// whose operands the host tests check but which have not yet run on a GPU (docs/perf.md,
// session 31); =0 keeps the fp32 paths for every format (for comparison or diagnosis).
template <typename Block>
bool tensor_decodes() {
  enum class Formats { None, Measured, All };
  static const Formats formats = [] {
    const char* v = std::getenv("CONCORD_CUDA_TENSOR_DECODE");
    const std::string value = v == nullptr ? "" : v;
    return value == "0" ? Formats::None : value == "all" ? Formats::All : Formats::Measured;
  }();
  constexpr bool kUnmeasured = std::is_same_v<Block, BlockQ5_K> || std::is_same_v<Block, BlockQ6_K>;
  return formats == Formats::All || (formats == Formats::Measured && !kUnmeasured);
}

// Whether single-token launches of few tiles split them over more blocks (matvec_stream.cuh's
// TileParts): yes unless CONCORD_CUDA_TILE_SPLIT=0 (for comparison).
bool tile_splits() {
  static const bool on = switched_on("CONCORD_CUDA_TILE_SPLIT");
  return on;
}

int64_t total_rows(const Jobs& jobs, int n_jobs) {
  int64_t rows = 0;
  for (int j = 0; j < n_jobs; ++j) rows += jobs.job[j].n_out;
  return rows;
}

template <Epilogue E>
void launch(GgmlType type, const Jobs& jobs, int64_t n_in, const float* x, int n,
            cudaStream_t stream, const MatvecScratch& scratch = {}) {
  dispatch(type, [&](auto tag) {
    using B = typename decltype(tag)::Block;
    constexpr int BS = decltype(tag)::kBlockSize;
    const auto by_tokens = [&](auto norm) {
      constexpr bool kNorm = decltype(norm)::value;
      constexpr bool kGated = E == Epilogue::SiluGate || E == Epilogue::GeluGate;
      const auto run = [&](auto tiling, auto tokens) {
        // Gated groups compute a gate row and an up row per output row: half the rows.
        using T = decltype(tiling);
        using Rows = std::conditional_t<kGated && T::kRows >= 2,
                                        Tiling<T::kRows / 2, T::kSplit, T::kUnroll, T::kWide>, T>;
        launch_tiled<B, BS, decltype(tokens)::value, Rows, E, kNorm>(jobs, n_in, x, n, stream);
      };
      const std::integral_constant<int, 1> one;
      if constexpr (kTensorStreamed<B>) {
        if (tensor_decodes<B>()) {
          if (n == 1 && !kGated && n_in < kLongRows &&
              total_rows(jobs, jobs.count) <= kSmallLaunchRows &&
              launch_stream<FewTilesTensorStream<B>, E, kNorm>(jobs, n_in, x, stream, scratch))
            return;
          if (n == 1 &&
              launch_stream<DefaultTensorStream<B>, E, kNorm>(jobs, n_in, x, stream, scratch))
            return;
          Jobs batch = jobs;
          batch.tokens = n;
          if (n > 1 &&
              launch_stream<DefaultTensorStream<B, true>, E, kNorm>(batch, n_in, x, stream))
            return;
        }
      }
      if (n > 1) return run(BatchTiling{}, std::integral_constant<int, kMaxMatvecTokens>{});
      if constexpr (kStreamed<B>) {
        if (streams(kGated, n_in) &&
            launch_stream<DefaultScalarStream<B>, E, kNorm>(jobs, n_in, x, stream))
          return;
      }
      if constexpr (StepDecoder<B>::kWide) {
        if (n_in % StepDecoder<B>::kRowMultiple == 0) {
          using T = StagedTiling<B>;
          using Rows =
              std::conditional_t<kGated, WideTiling<T::kRows / 2, T::kSplit, T::kWarps>, T>;
          if (n_in < kLongRows) {
            if constexpr (!kGated) {
              if (n_in >= kSmallLaunchMinWidth &&
                  total_rows(jobs, jobs.count) <= kSmallLaunchRows &&
                  launch_wide<B, BS, SmallStagedTiling, E, kNorm>(jobs, n_in, x, stream))
                return;
            }
            if (launch_wide<B, BS, Rows, E, kNorm>(jobs, n_in, x, stream)) return;
          }
          return run(LongRowTiling<B>{}, one);
        }
      }
      if constexpr (kFloatRows<B>) {
        if (total_rows(jobs, kGated ? 1 : jobs.count) <= kFewRows)
          return run(FloatTilingFewRows{}, one);
        return run(FloatTiling{}, one);
      }
      run(NarrowTiling{}, one);
    };
    // The accumulating form (residual adds) never takes a norm: one variant fewer.
    if constexpr (E != Epilogue::Accumulate) {
      if (jobs.norm_weight != nullptr) return by_tokens(std::true_type{});
    }
    by_tokens(std::false_type{});
  });
  check(cudaGetLastError(), "matvec");
}

Job job_of(const Weight& w, float* out) {
  return {w.data, out, w.n_out};
}

}  // namespace

int64_t matvec_partial_floats(int max_blocks) {
  return int64_t{max_blocks} * kTileRows;
}

void matvec(const Weight& w, const float* x, float* out, int n, bool accumulate,
            const MatvecScratch& scratch, cudaStream_t stream) {
  Jobs jobs;
  jobs.job[0] = job_of(w, out);
  jobs.count = 1;
  const MatvecScratch& split = tile_splits() ? scratch : MatvecScratch{};
  if (accumulate) {
    launch<Epilogue::Accumulate>(w.type, jobs, w.n_in, x, n, stream, split);
  } else {
    launch<Epilogue::Store>(w.type, jobs, w.n_in, x, n, stream, split);
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
  launch<Epilogue::Store>(ws[0].type, jobs, ws[0].n_in, x, n, stream);
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
    launch<Epilogue::SiluGate>(gate.type, jobs, gate.n_in, x, n, stream);
  } else {
    launch<Epilogue::GeluGate>(gate.type, jobs, gate.n_in, x, n, stream);
  }
  return true;
}

}  // namespace concord::cuda
