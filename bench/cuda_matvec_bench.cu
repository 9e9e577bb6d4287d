// Decode matrix-vector kernels on the device: GB/s of weight bytes per launch for the
// projection shapes of the Llama-3.2-1B and Llama-3-8B layouts (and Llama-3.2-3B's output), per
// weight type, for the tiling the backend uses and a grid of alternatives (rows per warp group R,
// warps per group S, groups in flight per lane U: see src/backends/cuda/matvec_kernel.cuh), and the
// streaming kernel with fp32 and tensor-core products (matvec_stream.cuh). Timed
// with CUDA events over 200 launches that cycle through copies of the matrix filling more
// than the L2 cache, so every launch reads its weights from memory.
//
//   cuda_matvec_bench [TYPE ...]      (types: F16 Q8_0 Q4_0 Q4_K Q5_K Q6_K; default all)
#include <cuda_runtime.h>

#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "backends/cuda/matvec_kernel.cuh"
#include "backends/cuda/matvec_stream.cuh"
#include "backends/cuda/matvec_wide.cuh"
#include "quant/types.h"

using namespace concord;
using namespace concord::cuda::matvec_detail;

namespace {

struct Shape {
  const char* name;
  int64_t n_in, n_out;
};

// The grids of tilings compared, production's among them: the 8-element loop (every type)
// and the wide loop of 32-element steps (types with a StepDecoder).
using Grid =
    std::tuple<Tiling<1, 1, 2>, Tiling<1, 1, 4>, Tiling<1, 4, 2>, Tiling<2, 1, 2>, Tiling<2, 2, 2>,
               Tiling<2, 4, 2>, Tiling<4, 1, 1>, Tiling<4, 1, 2>, Tiling<4, 2, 2>, Tiling<4, 4, 2>,
               Tiling<2, 1, 4>, Tiling<4, 1, 4>, Tiling<4, 2, 4>, Tiling<8, 1, 1>, Tiling<8, 1, 2>,
               Tiling<8, 1, 4>, Tiling<8, 2, 2>, Tiling<8, 4, 2>, Tiling<16, 1, 2>>;
// The wide loop with activations from global memory (long rows in production).
using WideGlobalGrid =
    std::tuple<Tiling<4, 2, 1, true>, Tiling<8, 2, 1, true>, Tiling<8, 4, 1, true>>;
// The wide loop with staged activations (matvec_wide.cuh): rows per group R, warps per group S.
using WideGrid = std::tuple<WideTiling<4, 1, 4>, WideTiling<8, 2, 4>, WideTiling<4, 2, 8>,
                            WideTiling<8, 2, 8>, WideTiling<8, 4, 8>, WideTiling<4, 2, 16>,
                            WideTiling<4, 4, 16>, WideTiling<8, 2, 16>, WideTiling<8, 4, 16>>;

template <typename T>
struct TypeTag {
  using type = T;
};

struct Matrix {
  GgmlType type;
  Shape shape;
  std::vector<void*> copies;  // enough copies to exceed the L2 cache
  size_t bytes = 0;
  float *x = nullptr, *out = nullptr;
};

// Seconds per launch of `launch(weights)`, cycling through the matrix copies.
template <typename Launch>
double seconds_per_launch(const Matrix& m, Launch launch) {
  constexpr int kLaunches = 200;
  const auto launch_copy = [&](int i) {
    launch(m.copies[static_cast<size_t>(i) % m.copies.size()]);
  };
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  launch_copy(0);  // warm-up
  cudaEventRecord(start);
  for (int i = 0; i < kLaunches; ++i) launch_copy(i);
  cudaEventRecord(stop);
  cudaEventSynchronize(stop);
  float ms = 0.0f;
  cudaEventElapsedTime(&ms, start, stop);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms / 1e3 / kLaunches;
}

Jobs one_job(const Matrix& m, const void* w) {
  Jobs jobs;
  jobs.job[0] = {w, m.out, m.shape.n_out};
  jobs.count = 1;
  return jobs;
}

template <typename Block, int BS>
void run_grid(const Matrix& m) {
  const auto print = [&](double seconds) { std::printf(" %6.0f", m.bytes / seconds / 1e9); };
  const auto tiled = [&](auto tiling) {
    print(seconds_per_launch(m, [&](const void* w) {
      launch_tiled<Block, BS, 1, decltype(tiling), Epilogue::Store, false>(
          one_job(m, w), m.shape.n_in, m.x, 1, nullptr);
    }));
  };
  std::apply([&](auto... tiling) { (tiled(tiling), ...); }, Grid{});
  std::printf(" |");
  if constexpr (cuda::StepDecoder<Block>::kWide) {
    std::apply([&](auto... tiling) { (tiled(tiling), ...); }, WideGlobalGrid{});
    std::printf(" |");
    const auto wide = [&](auto tiling) {
      print(seconds_per_launch(m, [&](const void* w) {
        launch_wide<Block, BS, decltype(tiling), Epilogue::Store, false>(
            one_job(m, w), m.shape.n_in, m.x, nullptr);
      }));
    };
    std::apply([&](auto... tiling) { (wide(tiling), ...); }, WideGrid{});
  }
  if constexpr (kStreamed<Block> || kTensorStreamed<Block>) {
    std::printf(" |");
    // The streaming kernel with each Math; "-" where it does not apply to the shape.
    const auto streamed = [&](auto math) {
      using Math = typename decltype(math)::type;
      bool launched = true;
      const double seconds = seconds_per_launch(m, [&](const void* w) {
        launched =
            launch_stream<Math, Epilogue::Store, false>(one_job(m, w), m.shape.n_in, m.x, nullptr);
      });
      if (launched) {
        print(seconds);
      } else {
        std::printf(" %6s", "-");
      }
    };
    if constexpr (kStreamed<Block>) {
      streamed(TypeTag<DefaultScalarStream<Block>>{});
    } else {
      std::printf(" %6s", "-");  // Q5_K, Q6_K: tensor products only
    }
    if constexpr (kTensorStreamed<Block>) streamed(TypeTag<DefaultTensorStream<Block>>{});
  }
  std::printf("\n");
}

void print_header() {
  const auto name = [](auto t) { std::printf("  %d.%d.%d", t.kRows, t.kSplit, t.kUnroll); };
  std::printf("%-5s %-10s %6s %6s |", "type", "shape", "n_in", "n_out");
  std::apply([&](auto... t) { (name(t), ...); }, Grid{});
  std::printf(" | wide, x global:");
  std::apply([&](auto... t) { (name(t), ...); }, WideGlobalGrid{});
  std::printf(" | wide, x staged:");
  const auto wide_name = [](auto t) { std::printf(" %2d.%d.%-2d", t.kRows, t.kSplit, t.kWarps); };
  std::apply([&](auto... t) { (wide_name(t), ...); }, WideGrid{});
  std::printf(" | streamed: fp32 tensor");
  std::printf("   (GB/s per tiling R.S.U; staged R.S.W)\n");
}

Matrix make_matrix(GgmlType type, const Shape& s) {
  constexpr size_t kL2Multiple = size_t{256} << 20;  // bytes cycled through: 5x the L2
  Matrix m{type, s};
  // Arbitrary bytes (speed does not depend on the values): 64 rows, repeated.
  std::vector<uint8_t> block(static_cast<size_t>(row_bytes(type, s.n_in)) * 64);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<uint8_t>(i * 2654435761u >> 24);
  m.shape.n_out = s.n_out / 64 * 64;
  m.bytes = block.size() * static_cast<size_t>(m.shape.n_out / 64);
  const size_t n_copies = (kL2Multiple + m.bytes - 1) / m.bytes;
  for (size_t c = 0; c < n_copies; ++c) {
    void* w = nullptr;
    cudaMalloc(&w, m.bytes);
    for (size_t off = 0; off < m.bytes; off += block.size())
      cudaMemcpy(static_cast<uint8_t*>(w) + off, block.data(), block.size(),
                 cudaMemcpyHostToDevice);
    m.copies.push_back(w);
  }
  cudaMalloc(&m.x, s.n_in * sizeof(float));
  cudaMalloc(&m.out, s.n_out * sizeof(float));
  cudaMemset(m.x, 0, s.n_in * sizeof(float));
  return m;
}

void free_matrix(Matrix& m) {
  for (void* w : m.copies) cudaFree(w);
  cudaFree(m.x);
  cudaFree(m.out);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> types(argv + 1, argv + argc);
  if (types.empty()) types = {"F16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"};
  const Shape shapes[] = {
      {"1B q/o", 2048, 2048},
      {"1B k/v", 2048, 512},
      {"1B gate", 2048, 8192},
      {"1B down", 8192, 2048},
      {"1B output", 2048, 128256},
      {"8B q/o", 4096, 4096},
      {"8B gate", 4096, 14336},
      {"8B down", 14336, 4096},
      {"8B output", 4096, 128256},
      // Llama 3.2 3B's output: Q6_K rows of 12 super-blocks, not whole 16-byte runs.
      {"3B output", 3072, 128256}};
  print_header();
  for (const std::string& name : types) {
    const GgmlType type = parse_type_name(name);  // throws on an unknown name
    for (const Shape& s : shapes) {
      Matrix m = make_matrix(type, s);
      std::printf("%-5s %-10s %6lld %6lld |", name.c_str(), s.name, static_cast<long long>(s.n_in),
                  static_cast<long long>(m.shape.n_out));
      switch (type) {
        case GgmlType::F16:
          run_grid<decode::F16Element, 1>(m);
          break;
        case GgmlType::Q8_0:
          run_grid<BlockQ8_0, kQK>(m);
          break;
        case GgmlType::Q4_0:
          run_grid<BlockQ4_0, kQK>(m);
          break;
        case GgmlType::Q4_K:
          run_grid<BlockQ4_K, kQKK>(m);
          break;
        case GgmlType::Q5_K:
          run_grid<BlockQ5_K, kQKK>(m);
          break;
        case GgmlType::Q6_K:
          run_grid<BlockQ6_K, kQKK>(m);
          break;
        default:
          std::printf(" (not in this benchmark)\n");
      }
      free_matrix(m);
    }
  }
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    std::fprintf(stderr, "CUDA error: %s\n", cudaGetErrorString(status));
    return 1;
  }
  return 0;
}
