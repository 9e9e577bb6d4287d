#include "parity/harness_support.h"

#include <chrono>
#include <cmath>

namespace concord::parity::harness {
namespace {

bool all_finite(const std::vector<float>& v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

// Whether `got` is non-finite exactly where the reference is: a NaN input must come out as
// NaN (clamping it to a finite number would hide it), and nothing else may be NaN or Inf.
bool finite_where_reference_is(const std::vector<float>& got, const std::vector<float>& want) {
  for (size_t i = 0; i < got.size(); ++i) {
    const bool expected = i < want.size() && std::isfinite(want[i]);
    if (std::isfinite(got[i]) != expected) return false;
  }
  return true;
}

// Times `call` (perf mode): calls queued back to back and the device synchronised once per
// batch, as `concord bench` times (a sync per call would add its latency to every small
// op), batches doubling until one lasts 25 ms (about 50 ms in all, as before).
double time_per_call(Backend& backend, const std::function<void()>& call) {
  using Clock = std::chrono::steady_clock;
  call();
  backend.synchronize();
  for (int batch = 1;; batch *= 2) {
    const auto start = Clock::now();
    for (int i = 0; i < batch; ++i) call();
    backend.synchronize();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed >= 0.025 || batch >= 8192) return elapsed / batch;
  }
}

}  // namespace

std::vector<float> gaussian(Rng& rng, int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = scale * rng.normal();
  return v;
}

void Context::finish(OpCheck c, const std::vector<float>& got, const std::vector<float>& want,
                     const std::function<void()>& call, bool nan_inputs) {
  c.finite =
      nan_inputs ? finite_where_reference_is(got, want) : all_finite(got) && all_finite(want);
  c.nmse = nmse(got, want);
  if (options.perf) c.seconds = time_per_call(backend, call);
  checks.push_back(std::move(c));
}

}  // namespace concord::parity::harness
