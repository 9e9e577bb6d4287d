#include "backends/cpu/host_backend.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "util/error.h"

namespace concord {
namespace {

class HostBuffer : public DeviceBuffer {
 public:
  HostBuffer(void* data, size_t bytes) : data_(data), bytes_(bytes) {}
  ~HostBuffer() override { std::free(data_); }
  void* data() const override { return data_; }
  size_t bytes() const override { return bytes_; }
  const void* host_view() const override { return data_; }  // host memory already

 private:
  void* data_;
  size_t bytes_;
};

constexpr size_t kAlignment = 64;  // cache line; enough for any SIMD load

uint64_t physical_memory() {
  return static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
         static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
}
uint64_t available_memory() {
  return static_cast<uint64_t>(sysconf(_SC_AVPHYS_PAGES)) *
         static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
}

}  // namespace

std::unique_ptr<DeviceBuffer> HostBackend::allocate(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (p == nullptr) {
    fail("out of host memory: {} bytes needed, about {} available", bytes, available_memory());
  }
  return std::make_unique<HostBuffer>(p, bytes);
}

void HostBackend::upload(void* device_dst, const void* host_src, size_t bytes) {
  if (bytes > 0) std::memcpy(device_dst, host_src, bytes);
}

void HostBackend::download(void* host_dst, const void* device_src, size_t bytes) {
  if (bytes > 0) std::memcpy(host_dst, device_src, bytes);
}

void HostBackend::copy(void* device_dst, const void* device_src, size_t bytes) {
  if (bytes > 0) std::memcpy(device_dst, device_src, bytes);
}

Capabilities HostBackend::host_capabilities(const std::string& detail) {
  Capabilities c;
  c.weight_types = supported_types();
  c.kv_types = {KvType::F32, KvType::F16};
  c.max_batch_tokens = 1 << 16;
  c.max_context = 1 << 20;
  DeviceInfo d;
  d.name = cpu_model_name();
  d.memory_total = physical_memory();
  d.memory_free = available_memory();
  d.compute_units = static_cast<int>(std::thread::hardware_concurrency());
  d.detail = detail;
  c.devices.push_back(d);
  return c;
}

std::string cpu_simd_level() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "AVX-512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "AVX2+FMA";
  if (__builtin_cpu_supports("avx2")) return "AVX2";
  return "SSE2";
#elif defined(__aarch64__)
  return "NEON";
#else
  return "scalar";
#endif
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "CPU";
}

}  // namespace concord
