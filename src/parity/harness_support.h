// What the op harness's checks share (op_harness.cpp, attention_checks.cpp): NMSE
// thresholds, guarded device buffers, random inputs and the context that collects results.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "parity/op_harness.h"
#include "util/rng.h"

namespace concord::parity::harness {

constexpr size_t kGuardBytes = 256;
constexpr uint8_t kGuardByte = 0xa5;

// NMSE thresholds (DESIGN.md): element-wise float32 ops are near-exact; matmul,
// attention and quantised paths accumulate in a backend-chosen order.
constexpr double kElementwise = 1e-7;
constexpr double kAccumulating = 5e-4;

// A device allocation with guard bytes on both sides of the payload.
class Guarded {
 public:
  Guarded(Backend& backend, const void* init, size_t bytes) : backend_(backend), bytes_(bytes) {
    buffer_ = backend.allocate(bytes + 2 * kGuardBytes);
    std::vector<uint8_t> host(bytes + 2 * kGuardBytes, kGuardByte);
    if (init != nullptr) std::memcpy(host.data() + kGuardBytes, init, bytes);
    backend.upload(buffer_->data(), host.data(), host.size());
  }
  template <typename T>
  static Guarded of(Backend& b, const std::vector<T>& v) {
    return Guarded(b, v.data(), v.size() * sizeof(T));
  }
  template <typename T>
  T* ptr() const {
    return reinterpret_cast<T*>(buffer_->as<uint8_t>() + kGuardBytes);
  }
  // Downloads the payload; reports whether the guards survived.
  template <typename T>
  std::vector<T> read(bool& guards_intact) const {
    std::vector<uint8_t> host(bytes_ + 2 * kGuardBytes);
    backend_.synchronize();
    backend_.download(host.data(), buffer_->data(), host.size());
    for (size_t i = 0; i < kGuardBytes; ++i) {
      if (host[i] != kGuardByte || host[kGuardBytes + bytes_ + i] != kGuardByte)
        guards_intact = false;
    }
    std::vector<T> out(bytes_ / sizeof(T));
    std::memcpy(out.data(), host.data() + kGuardBytes, bytes_);
    return out;
  }

 private:
  Backend& backend_;
  size_t bytes_;
  std::unique_ptr<DeviceBuffer> buffer_;
};

// n values drawn from N(0, scale^2).
std::vector<float> gaussian(Rng& rng, int64_t n, float scale = 1.0f);

struct Context {
  Backend& backend;
  const HarnessOptions& options;
  Rng rng;
  std::vector<OpCheck> checks;

  // No NaN or Inf in either output, unless the inputs hold a NaN on purpose (`nan_inputs`):
  // then exactly where the reference has them.
  void finish(OpCheck c, const std::vector<float>& got, const std::vector<float>& want,
              const std::function<void()>& call, bool nan_inputs = false);
};

// store_kv, rope_store_kv, attention and rope_store_attention (attention_checks.cpp).
void check_kv_and_attention(Context& ctx);

}  // namespace concord::parity::harness
