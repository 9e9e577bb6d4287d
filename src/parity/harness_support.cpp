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

// Times `call` (perf mode): repeats it for at least 50 ms.
double time_per_call(Backend& backend, const std::function<void()>& call) {
  using Clock = std::chrono::steady_clock;
  call();
  backend.synchronize();
  int iterations = 0;
  const auto start = Clock::now();
  double elapsed = 0.0;
  do {
    call();
    ++iterations;
    backend.synchronize();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < 0.05 && iterations < 10000);
  return elapsed / iterations;
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
