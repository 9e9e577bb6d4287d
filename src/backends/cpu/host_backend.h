// Memory for backends that compute on the host: device pointers are host pointers.
#pragma once

#include "backend/backend.h"

namespace concord {

class HostBackend : public Backend {
 public:
  std::unique_ptr<DeviceBuffer> allocate(size_t bytes) override;
  void upload(void* device_dst, const void* host_src, size_t bytes) override;
  void download(void* host_dst, const void* device_src, size_t bytes) override;
  void copy(void* device_dst, const void* device_src, size_t bytes) override;
  void synchronize() override {}

 protected:
  // Devices and limits common to host backends (CPU model, cores, memory).
  static Capabilities host_capabilities(const std::string& detail);
};

// The CPU's SIMD level as the kernels will use it ("AVX2", "AVX-512", "NEON", "scalar").
std::string cpu_simd_level();
std::string cpu_model_name();

}  // namespace concord
