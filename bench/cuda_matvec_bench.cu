// Decode matrix-vector kernels on the device: GB/s of weight bytes per launch for the
// projection shapes of the Llama-3.2-1B and Llama-3-8B layouts, per weight type and rows
// per warp, timed with CUDA events over 200 launches (run through scripts/device-check.sh).
//
//   cuda_matvec_bench [TYPE ...]
#include <cuda_runtime.h>

#include <cstdio>
#include <string>
#include <vector>

#include "backends/cuda/kernels.cuh"
#include "quant/types.h"

using namespace concord;

namespace {

struct Shape {
  const char* name;
  int64_t n_in, n_out;
};

double launch_seconds(const Weight& w, const float* x, float* out, int rows_per_warp) {
  constexpr int kLaunches = 200;
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  cuda::matvec(w, x, out, 1, false, nullptr, rows_per_warp);  // warm-up
  cudaEventRecord(start);
  for (int i = 0; i < kLaunches; ++i) cuda::matvec(w, x, out, 1, false, nullptr, rows_per_warp);
  cudaEventRecord(stop);
  cudaEventSynchronize(stop);
  float ms = 0.0f;
  cudaEventElapsedTime(&ms, start, stop);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms / 1e3 / kLaunches;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> types(argv + 1, argv + argc);
  if (types.empty()) types = {"F16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"};
  const Shape shapes[] = {{"1B q/o", 2048, 2048},  {"1B gate", 2048, 8192},
                          {"1B down", 8192, 2048}, {"1B output", 2048, 128256},
                          {"8B q/o", 4096, 4096},  {"8B gate", 4096, 14336},
                          {"8B down", 14336, 4096}};
  std::printf("%-6s %-10s %8s %8s | %s\n", "type", "shape", "n_in", "n_out",
              "GB/s (us) at 1 / 4 rows per warp");
  for (const std::string& name : types) {
    const GgmlType type = parse_type_name(name);  // throws on an unknown name
    for (const Shape& s : shapes) {
      // Arbitrary bytes (speed does not depend on the values): 64 rows, repeated.
      std::vector<uint8_t> block(static_cast<size_t>(row_bytes(type, s.n_in)) * 64);
      for (size_t i = 0; i < block.size(); ++i)
        block[i] = static_cast<uint8_t>(i * 2654435761u >> 24);
      const size_t bytes = block.size() * static_cast<size_t>(s.n_out / 64);
      void* w = nullptr;
      float *x = nullptr, *out = nullptr;
      cudaMalloc(&w, bytes);
      cudaMalloc(&x, s.n_in * sizeof(float));
      cudaMalloc(&out, s.n_out * sizeof(float));
      for (size_t off = 0; off < bytes; off += block.size())
        cudaMemcpy(static_cast<uint8_t*>(w) + off, block.data(), block.size(),
                   cudaMemcpyHostToDevice);
      cudaMemset(x, 0, s.n_in * sizeof(float));
      const Weight weight{type, s.n_in, s.n_out / 64 * 64, w};
      std::printf("%-6s %-10s %8lld %8lld |", name.c_str(), s.name, static_cast<long long>(s.n_in),
                  static_cast<long long>(weight.n_out));
      for (int rows : {1, 4}) {
        const double sec = launch_seconds(weight, x, out, rows);
        std::printf(" %7.0f (%6.1f)", bytes / sec / 1e9, sec * 1e6);
      }
      std::printf("\n");
      cudaFree(w);
      cudaFree(x);
      cudaFree(out);
    }
  }
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    std::fprintf(stderr, "CUDA error: %s\n", cudaGetErrorString(status));
    return 1;
  }
  return 0;
}
