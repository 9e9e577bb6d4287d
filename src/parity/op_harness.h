// The op-parity harness (in the spirit of llama.cpp's test-backend-ops): every op of a
// backend, for every weight/KV type it declares and several shapes (odd sizes, batches
// > 1), against the scalar reference on fresh random inputs. Checks NMSE against the
// op's threshold, NaN/Inf, and guard regions around every output.
#pragma once

#include <string>
#include <vector>

#include "backend/backend.h"

namespace concord::parity {

struct OpCheck {
  std::string op;     // "matmul", "attention", ...
  std::string type;   // weight or KV type, or "f32"
  std::string shape;  // human-readable sizes
  double nmse = 0.0;
  double threshold = 0.0;
  bool finite = true;         // no NaN/Inf (NaN inputs: only where the reference has them)
  bool guards_intact = true;  // nothing written outside the output
  double seconds = 0.0;       // per call (perf mode), else 0
  double bytes = 0.0;         // bytes read + written per call
  double flops = 0.0;         // floating-point operations per call
  bool passed() const { return finite && guards_intact && nmse <= threshold; }
};

struct HarnessOptions {
  std::string op_filter;  // run only ops with this name (empty: all)
  bool perf = false;      // also time each case
  uint64_t seed = 1;
};

// Op names the harness covers, in order.
const std::vector<std::string>& harness_ops();

std::vector<OpCheck> run_op_harness(Backend& backend, const HarnessOptions& options);

// NMSE = Σ(a−b)² / Σb², b the reference, over the elements where b is finite.
double nmse(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace concord::parity
