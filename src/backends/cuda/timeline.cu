// The timeline's records (timeline.cuh): one buffer for the process, for the one backend
// that records at a time.
#include "backends/cuda/timeline.cuh"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "backends/cuda/kernels.cuh"
#include "util/error.h"

namespace concord::cuda {
namespace {

struct Timeline {
  const char* path = std::getenv("CONCORD_CUDA_TIMELINE");
  TimelineRecord* records = nullptr;
  unsigned* count = nullptr;
  unsigned capacity = 1u << 22;  // 4M blocks, 192 MiB: ~130 steps of the 1B shape
  uint32_t next_launch = 0;
};

Timeline& timeline() {
  static Timeline t;
  return t;
}

}  // namespace

void open_timeline() {
  Timeline& t = timeline();
  if (t.path == nullptr || t.records != nullptr) return;
  check(cudaMalloc(&t.records, sizeof(TimelineRecord) * t.capacity), "timeline records");
  check(cudaMalloc(&t.count, sizeof(unsigned)), "timeline count");
  check(cudaMemset(t.count, 0, sizeof(unsigned)), "timeline count");
}

TimelineSink next_timeline_sink() {
  Timeline& t = timeline();
  if (t.records == nullptr) return {};
  return {t.records, t.count, t.capacity, t.next_launch++};
}

void close_timeline() {
  Timeline& t = timeline();
  if (t.records == nullptr) return;
  unsigned n = 0;
  std::vector<TimelineRecord> host;
  if (cudaDeviceSynchronize() == cudaSuccess &&
      cudaMemcpy(&n, t.count, sizeof n, cudaMemcpyDeviceToHost) == cudaSuccess) {
    host.resize(std::min(n, t.capacity));
    if (cudaMemcpy(host.data(), t.records, sizeof(TimelineRecord) * host.size(),
                   cudaMemcpyDeviceToHost) != cudaSuccess)
      host.clear();
  }
  cudaFree(t.records);
  cudaFree(t.count);
  t.records = nullptr;
  // Called from a destructor: report, never throw.
  FILE* f = std::fopen(t.path, "wb");
  if (f == nullptr ||
      std::fwrite(host.data(), sizeof(TimelineRecord), host.size(), f) != host.size())
    std::fprintf(stderr, "warning: could not write the CUDA timeline to '%s'\n", t.path);
  if (f != nullptr) std::fclose(f);
  if (n > t.capacity)
    std::fprintf(stderr, "warning: CUDA timeline full: %u of %u blocks recorded\n", t.capacity, n);
}

}  // namespace concord::cuda
