// Reference (de)quantisation throughput per weight format. These are the scalar oracles,
// not the backends' kernels: the figures bound how fast `quantize` and model loading run.
#include <benchmark/benchmark.h>

#include "quant/quant.h"
#include "util/rng.h"

namespace {

using concord::GgmlType;

constexpr int64_t kElements = 1 << 16;

std::vector<float> gaussian(int64_t n) {
  concord::Rng rng(1);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = rng.normal();
  return x;
}

void BM_Dequantize(benchmark::State& state) {
  const auto type = static_cast<GgmlType>(state.range(0));
  const std::vector<uint8_t> q = concord::quantize(type, gaussian(kElements));
  std::vector<float> out(kElements);
  for (auto _ : state) {
    concord::dequantize_row(type, q.data(), out.data(), kElements);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(concord::type_name(type)));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * q.size()));
  state.SetItemsProcessed(state.iterations() * kElements);
}

void BM_Quantize(benchmark::State& state) {
  const auto type = static_cast<GgmlType>(state.range(0));
  const std::vector<float> x = gaussian(kElements);
  std::vector<uint8_t> out(concord::row_bytes(type, kElements));
  for (auto _ : state) {
    concord::quantize_row(type, x.data(), out.data(), kElements);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(concord::type_name(type)));
  state.SetItemsProcessed(state.iterations() * kElements);
}

void AllTypes(benchmark::internal::Benchmark* b) {
  for (GgmlType t : concord::supported_types()) b->Arg(static_cast<int64_t>(t));
}

BENCHMARK(BM_Dequantize)->Apply(AllTypes);
BENCHMARK(BM_Quantize)->Apply(AllTypes);

}  // namespace
