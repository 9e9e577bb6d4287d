#include "parity/op_harness.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>

#include "backends/cpu/reference_ops.h"
#include "parity/harness_support.h"
#include "quant/quant.h"
#include "util/half.h"
#include "util/rng.h"

namespace concord::parity {
namespace {

using namespace harness;

// Weight n_in sizes valid for a type: multiples of its block size, odd block counts too,
// and for block formats rows of 4096 to 8191 and of 8192 or more (backends may take other
// paths there: the CUDA decode kernel splits rows of >= 4096 over more warps in launches of
// few rows, and reads activations from global memory for rows of >= 8192). 2304, a multiple
// of 256 but not of 1024, gives legacy rows that the CUDA streaming kernel copies in several
// pieces (of 1024 or 2048 elements), the last one partial. 2048 and 6144 give Q6_K rows of
// whole 16-byte runs (8 super-blocks' multiples), which that kernel takes in pieces of 2048.
std::vector<int64_t> input_widths(GgmlType type) {
  const int64_t block = type_info(type).block_size;
  if (block == 256) return {256, 768, 2048, 4352, 6144, 8448};
  if (block == 32) return {96, 512, 2304, 4160, 8256};
  return {97, 512};  // plain float formats: odd widths exercise the kernels' tails
}

// One matmul case: W [n_out, n_in] of `type` times n tokens of x; with `poisoned`, x of the
// first token holds a NaN, which must reach every output of that token on every path
// (single-token and batched decode steps, the fp16 prefill product).
void check_matmul_case(Context& ctx, GgmlType type, int64_t n_in, int64_t n_out, int n,
                       bool poisoned) {
  const std::vector<uint8_t> w = quantize(type, gaussian(ctx.rng, n_in * n_out));
  std::vector<float> x = gaussian(ctx.rng, n_in * n);
  if (poisoned) x[static_cast<size_t>(n_in / 3)] = std::nanf("");
  std::vector<float> want(static_cast<size_t>(n_out * n));
  reference::matmul({type, n_in, n_out, w.data()}, x.data(), want.data(), n);
  Guarded dw = Guarded::of(ctx.backend, w), dx = Guarded::of(ctx.backend, x);
  Guarded out(ctx.backend, nullptr, want.size() * sizeof(float));
  const Weight weight{type, n_in, n_out, dw.ptr<void>()};
  auto call = [&] { ctx.backend.matmul(weight, dx.ptr<float>(), out.ptr<float>(), n); };
  call();
  OpCheck c{"matmul", std::string(type_name(type)),
            fmt::format("in={} out={} n={}{}", n_in, n_out, n, poisoned ? " NaN in x" : "")};
  c.threshold = kAccumulating;
  c.bytes = static_cast<double>(w.size() + (x.size() + want.size()) * sizeof(float));
  c.flops = 2.0 * n_in * n_out * n;
  const auto got = out.read<float>(c.guards_intact);
  ctx.finish(c, got, want, call, poisoned);
}

void check_matmul(Context& ctx) {
  for (GgmlType type : ctx.backend.capabilities().weight_types) {
    for (int64_t n_in : input_widths(type)) {
      for (const auto& [n_out, n] : {std::pair<int64_t, int>{33, 1}, {130, 7}, {64, 16}})
        check_matmul_case(ctx, type, n_in, n_out, n, false);
    }
    // Rows of 512 or 256 (a multiple of 256: the widths every CUDA decode kernel takes).
    const int64_t poisoned_width = type_info(type).block_size == 256 ? 256 : 512;
    for (const int n : {1, 7, 16}) check_matmul_case(ctx, type, poisoned_width, 33, n, true);
  }
}

void check_embed(Context& ctx) {
  for (GgmlType type : ctx.backend.capabilities().weight_types) {
    const int64_t n_in = input_widths(type)[0], n_vocab = 37;
    const std::vector<uint8_t> table = quantize(type, gaussian(ctx.rng, n_in * n_vocab));
    const std::vector<int32_t> tokens = {0, 36, 5, 5, 17};
    const int n = static_cast<int>(tokens.size());
    std::vector<float> want(static_cast<size_t>(n * n_in));
    reference::embed({type, n_in, n_vocab, table.data()}, {tokens.data(), nullptr, nullptr, n},
                     want.data());
    Guarded dt = Guarded::of(ctx.backend, table), dtok = Guarded::of(ctx.backend, tokens);
    Guarded out(ctx.backend, nullptr, want.size() * sizeof(float));
    const Weight weight{type, n_in, n_vocab, dt.ptr<void>()};
    auto call = [&] {
      ctx.backend.embed(weight, {dtok.ptr<int32_t>(), nullptr, nullptr, n}, out.ptr<float>());
    };
    call();
    OpCheck c{"embed", std::string(type_name(type)), fmt::format("width={} n={}", n_in, n)};
    c.threshold = kElementwise;
    c.bytes = static_cast<double>(want.size() * sizeof(float) * 2);
    const auto got = out.read<float>(c.guards_intact);
    ctx.finish(c, got, want, call);
  }
}

void check_rms_norm(Context& ctx) {
  for (const auto& shape : {std::pair<int, int>{64, 1}, {1000, 5}, {4099, 3}}) {
    const int dim = shape.first, n = shape.second;
    const std::vector<float> x = gaussian(ctx.rng, static_cast<int64_t>(dim) * n, 3.0f);
    const std::vector<float> w = gaussian(ctx.rng, dim);
    std::vector<float> want(x.size());
    reference::rms_norm(x.data(), w.data(), want.data(), n, dim, 1e-5f);
    Guarded dx = Guarded::of(ctx.backend, x), dw = Guarded::of(ctx.backend, w);
    Guarded out(ctx.backend, nullptr, x.size() * sizeof(float));
    auto call = [&] {
      ctx.backend.rms_norm(dx.ptr<float>(), dw.ptr<float>(), out.ptr<float>(), n, dim, 1e-5f);
    };
    call();
    OpCheck c{"rms_norm", "f32", fmt::format("dim={} n={}", dim, n)};
    c.threshold = kElementwise;
    c.bytes = static_cast<double>(x.size() * 2 * sizeof(float));
    const auto got = out.read<float>(c.guards_intact);
    ctx.finish(c, got, want, call);
  }
}

void check_rope(Context& ctx) {
  struct Case {
    int head_dim, n_rot;
    bool neox, factors;
    float scale;
  };
  for (const Case& rc : {Case{64, 64, false, false, 1.0f}, Case{64, 32, true, false, 1.0f},
                         Case{128, 128, false, true, 0.25f}, Case{80, 64, true, true, 1.0f}}) {
    const int n = 6, n_heads = 3;
    const std::vector<int32_t> positions = {0, 1, 17, 511, 4000, 3};
    const std::vector<float> x = gaussian(ctx.rng, static_cast<int64_t>(n) * n_heads * rc.head_dim);
    std::vector<float> factors(static_cast<size_t>(rc.n_rot / 2));
    for (float& f : factors) f = 1.0f + 7.0f * static_cast<float>(ctx.rng.uniform());
    RopeParams p{rc.n_rot, 10000.0f, rc.scale, rc.neox, rc.factors ? factors.data() : nullptr};
    std::vector<float> want = x;
    reference::rope(want.data(), {nullptr, positions.data(), nullptr, n}, n_heads, rc.head_dim, p);
    Guarded dpos = Guarded::of(ctx.backend, positions), dfac = Guarded::of(ctx.backend, factors);
    Guarded dx = Guarded::of(ctx.backend, x);
    RopeParams dp = p;
    dp.freq_factors = rc.factors ? dfac.ptr<float>() : nullptr;
    // In-place op: time on a scratch copy so the checked output is from one call.
    ctx.backend.rope(dx.ptr<float>(), {nullptr, dpos.ptr<int32_t>(), nullptr, n}, n_heads,
                     rc.head_dim, dp);
    OpCheck c{"rope", "f32",
              fmt::format("head_dim={} n_rot={} {}{}", rc.head_dim, rc.n_rot,
                          rc.neox ? "neox" : "normal", rc.factors ? " factors" : "")};
    c.threshold = kElementwise;
    c.bytes = static_cast<double>(x.size() * 2 * sizeof(float));
    const auto got = dx.read<float>(c.guards_intact);
    Guarded scratch = Guarded::of(ctx.backend, x);
    ctx.finish(c, got, want, [&] {
      ctx.backend.rope(scratch.ptr<float>(), {nullptr, dpos.ptr<int32_t>(), nullptr, n}, n_heads,
                       rc.head_dim, dp);
    });
  }
}

// Weight types of the three matrices: each capability's type for all three, and the mixes of
// a Q4_K_M file's layers (Q and K in Q4_K, V in Q6_K; and gate and up of different types).
std::vector<std::array<GgmlType, 3>> fused_type_plans(const Capabilities& caps) {
  std::vector<std::array<GgmlType, 3>> plans;
  for (GgmlType type : caps.weight_types) plans.push_back({type, type, type});
  const auto has = [&](GgmlType t) {
    return std::find(caps.weight_types.begin(), caps.weight_types.end(), t) !=
           caps.weight_types.end();
  };
  if (has(GgmlType::Q4_K) && has(GgmlType::Q6_K)) {
    plans.push_back({GgmlType::Q4_K, GgmlType::Q4_K, GgmlType::Q6_K});
    plans.push_back({GgmlType::Q6_K, GgmlType::Q4_K, GgmlType::Q6_K});
  }
  return plans;
}

// The fused projections (project, matmul_add, gated_matmul) against the plain reference
// ops they stand for, for every weight type and the mixes above, at a decode shape and
// batched ones, with and without an input RMS norm.
void check_fused_matmuls(Context& ctx) {
  constexpr float kEps = 1e-5f;
  for (const std::array<GgmlType, 3>& types : fused_type_plans(ctx.backend.capabilities())) {
    std::string label(type_name(types[0]));
    if (types[1] != types[0] || types[2] != types[0])
      label =
          fmt::format("{}+{}+{}", type_name(types[0]), type_name(types[1]), type_name(types[2]));
    // Every width but the narrowest of the block formats (a row of a few blocks).
    const std::vector<int64_t> widths = input_widths(types[0]);
    for (size_t w = widths.size() > 2 ? 1 : 0; w < widths.size(); ++w) {
      const int64_t n_in = widths[w];
      for (const auto& shape : {std::pair<int64_t, int>{33, 1}, {130, 5}, {64, 12}}) {
        const int64_t n_out = shape.first;
        const int n = shape.second;
        const std::vector<float> x = gaussian(ctx.rng, n_in * n, 3.0f),
                                 gain = gaussian(ctx.rng, n_in);
        std::vector<float> x_normed(x.size());
        reference::rms_norm(x.data(), gain.data(), x_normed.data(), n, static_cast<int>(n_in),
                            kEps);
        Guarded dx = Guarded::of(ctx.backend, x), dgain = Guarded::of(ctx.backend, gain);
        Guarded dscratch(ctx.backend, nullptr, x.size() * sizeof(float));
        // Three matrices sharing x (Q, K, V, the last narrower); the first two double as
        // gate and up, the first as the residual projection.
        std::vector<std::vector<uint8_t>> w;
        std::vector<Guarded> dw, dout;
        std::vector<Weight> weights;
        dw.reserve(3);
        dout.reserve(3);
        for (int i = 0; i < 3; ++i) {
          const int64_t rows = i == 2 ? n_out / 2 + 1 : n_out;
          w.push_back(quantize(types[i], gaussian(ctx.rng, n_in * rows)));
          dw.push_back(Guarded::of(ctx.backend, w[i]));
          dout.emplace_back(ctx.backend, nullptr, static_cast<size_t>(rows * n) * sizeof(float));
          weights.push_back({types[i], n_in, rows, dw[i].ptr<void>()});
        }
        // want[i] = W_i · input, for the input itself or its normalised rows.
        auto reference_products = [&](const std::vector<float>& input) {
          std::vector<std::vector<float>> want(3);
          for (int i = 0; i < 3; ++i) {
            want[i].resize(static_cast<size_t>(weights[i].n_out * n));
            reference::matmul({types[i], n_in, weights[i].n_out, w[i].data()}, input.data(),
                              want[i].data(), n);
          }
          return want;
        };
        const double weight_bytes = static_cast<double>(w[0].size() + w[1].size() + w[2].size());
        auto finish = [&](std::string op, const std::vector<float>& got,
                          const std::vector<float>& expected, bool guards,
                          const std::function<void()>& call) {
          OpCheck c{std::move(op), label, fmt::format("in={} out={} n={}", n_in, n_out, n)};
          c.threshold = kAccumulating;
          c.guards_intact = guards;
          c.bytes = weight_bytes;
          ctx.finish(c, got, expected, call);
        };

        for (const bool with_norm : {false, true}) {
          const auto want = reference_products(with_norm ? x_normed : x);
          const InputNorm norm =
              with_norm ? InputNorm{dgain.ptr<float>(), kEps, dscratch.ptr<float>()} : InputNorm{};
          const std::string suffix = with_norm ? "+norm" : "";
          auto project = [&] {
            ctx.backend.project({{weights[0], dout[0].ptr<float>()},
                                 {weights[1], dout[1].ptr<float>()},
                                 {weights[2], dout[2].ptr<float>()}},
                                dx.ptr<float>(), n, norm);
          };
          project();
          bool guards = true;
          std::vector<float> got, expected;
          for (int i = 0; i < 3; ++i) {
            const auto part = dout[i].read<float>(guards);
            got.insert(got.end(), part.begin(), part.end());
            expected.insert(expected.end(), want[i].begin(), want[i].end());
          }
          finish("project" + suffix, got, expected, guards, project);

          for (const GatedActivation act : {GatedActivation::Silu, GatedActivation::GeluTanh}) {
            std::vector<float> gated(want[0].size());
            const auto combine =
                act == GatedActivation::Silu ? reference::swiglu : reference::geglu;
            combine(want[0].data(), want[1].data(), gated.data(),
                    static_cast<int64_t>(gated.size()));
            auto call = [&] {
              ctx.backend.gated_matmul(weights[0], weights[1], dx.ptr<float>(),
                                       dout[0].ptr<float>(), dout[1].ptr<float>(), n, act, norm);
            };
            call();
            guards = true;
            got = dout[0].read<float>(guards);
            const char* name = act == GatedActivation::Silu ? "gated_matmul" : "gated_matmul_gelu";
            finish(name + suffix, got, gated, guards, call);
          }
        }

        const auto want = reference_products(x);
        const std::vector<float> residual = gaussian(ctx.rng, n_out * n);
        std::vector<float> sum(residual.size());
        reference::add(residual.data(), want[0].data(), sum.data(),
                       static_cast<int64_t>(sum.size()));
        Guarded dres = Guarded::of(ctx.backend, residual);
        auto accumulate = [&] {
          ctx.backend.matmul_add(weights[0], dx.ptr<float>(), dres.ptr<float>(),
                                 dout[0].ptr<float>(), n);
        };
        accumulate();
        bool guards = true;
        const auto got = dres.read<float>(guards);
        // Timing keeps accumulating into the same output; only the first result is checked.
        finish("matmul_add", got, sum, guards, accumulate);
      }
    }
  }
}

// Element-wise ops on n values: binary ones (out = f(a, b)) and in-place unary ones.
void check_elementwise(Context& ctx) {
  struct Binary {
    const char* op;
    void (*reference)(const float*, const float*, float*, int64_t);
    void (Backend::*run)(const float*, const float*, float*, int64_t);
  };
  const Binary binaries[] = {{"swiglu", reference::swiglu, &Backend::swiglu},
                             {"geglu", reference::geglu, &Backend::geglu},
                             {"add", reference::add, &Backend::add}};
  struct Unary {
    const char* op;
    float parameter;
    void (*reference)(float*, float, int64_t);
    void (Backend::*run)(float*, float, int64_t);
  };
  const Unary unaries[] = {{"scale", 25.298f, reference::scale, &Backend::scale},
                           {"softcap", 3.0f, reference::softcap, &Backend::softcap}};
  for (int64_t n : {1, 1000, 4097}) {
    const std::vector<float> a = gaussian(ctx.rng, n, 4.0f), b = gaussian(ctx.rng, n);
    Guarded da = Guarded::of(ctx.backend, a), db = Guarded::of(ctx.backend, b);
    for (const Binary& op : binaries) {
      std::vector<float> want(static_cast<size_t>(n));
      op.reference(a.data(), b.data(), want.data(), n);
      Guarded out(ctx.backend, nullptr, static_cast<size_t>(n) * sizeof(float));
      auto call = [&] {
        (ctx.backend.*op.run)(da.ptr<float>(), db.ptr<float>(), out.ptr<float>(), n);
      };
      call();
      OpCheck c{op.op, "f32", fmt::format("n={}", n)};
      c.threshold = kElementwise;
      c.bytes = static_cast<double>(n * 3 * sizeof(float));
      const auto got = out.read<float>(c.guards_intact);
      ctx.finish(c, got, want, call);
    }
    for (const Unary& op : unaries) {
      std::vector<float> want = a;
      op.reference(want.data(), op.parameter, n);
      Guarded x = Guarded::of(ctx.backend, a);
      (ctx.backend.*op.run)(x.ptr<float>(), op.parameter, n);
      OpCheck c{op.op, "f32", fmt::format("n={} parameter={}", n, op.parameter)};
      c.threshold = kElementwise;
      c.bytes = static_cast<double>(n * 2 * sizeof(float));
      const auto got = x.read<float>(c.guards_intact);
      // Timing re-applies the op to its own output; only the first result is checked.
      ctx.finish(c, got, want, [&] { (ctx.backend.*op.run)(x.ptr<float>(), op.parameter, n); });
    }
  }
}

void check_add_bias(Context& ctx) {
  struct Shape {
    int n, dim;
  };
  for (const Shape shape : {Shape{1, 64}, Shape{5, 77}}) {
    const int n = shape.n, dim = shape.dim;
    const std::vector<float> x = gaussian(ctx.rng, static_cast<int64_t>(n) * dim),
                             bias = gaussian(ctx.rng, dim);
    std::vector<float> want = x;
    reference::add_bias(want.data(), bias.data(), n, dim);
    Guarded dx = Guarded::of(ctx.backend, x), dbias = Guarded::of(ctx.backend, bias);
    auto call = [&] { ctx.backend.add_bias(dx.ptr<float>(), dbias.ptr<float>(), n, dim); };
    call();
    OpCheck c{"add_bias", "f32", fmt::format("n={} dim={}", n, dim)};
    c.threshold = kElementwise;
    c.bytes = static_cast<double>(x.size() * 2 * sizeof(float));
    const auto got = dx.read<float>(c.guards_intact);
    ctx.finish(c, got, want, call);
  }
}

void check_gather_rows(Context& ctx) {
  const int dim = 77, n_src = 9;
  const std::vector<float> x = gaussian(ctx.rng, dim * n_src);
  const std::vector<int32_t> rows = {8, 0, 3};
  std::vector<float> want(rows.size() * dim);
  reference::gather_rows(x.data(), rows.data(), 3, dim, want.data());
  Guarded dx = Guarded::of(ctx.backend, x), drows = Guarded::of(ctx.backend, rows);
  Guarded out(ctx.backend, nullptr, want.size() * sizeof(float));
  auto call = [&] {
    ctx.backend.gather_rows(dx.ptr<float>(), drows.ptr<int32_t>(), 3, dim, out.ptr<float>());
  };
  call();
  OpCheck c{"gather_rows", "f32", fmt::format("dim={} rows=3", dim)};
  c.threshold = kElementwise;
  c.bytes = static_cast<double>(want.size() * 2 * sizeof(float));
  const auto got = out.read<float>(c.guards_intact);
  ctx.finish(c, got, want, call);
}

// The device-to-device copy: every byte arrives (NMSE 0), odd lengths and offsets included.
void check_copy(Context& ctx) {
  for (int64_t n : {1, 1000, 4097}) {
    const std::vector<float> x = gaussian(ctx.rng, n + 1);
    Guarded src = Guarded::of(ctx.backend, x);
    Guarded out(ctx.backend, nullptr, static_cast<size_t>(n) * sizeof(float));
    // From the second float on: a source that is only 4-byte aligned.
    auto call = [&] {
      ctx.backend.copy(out.ptr<float>(), src.ptr<float>() + 1, static_cast<size_t>(n) * 4);
    };
    call();
    OpCheck c{"copy", "f32", fmt::format("n={}", n)};
    c.threshold = 0.0;
    c.bytes = static_cast<double>(n * 2 * sizeof(float));
    const auto got = out.read<float>(c.guards_intact);
    ctx.finish(c, got, std::vector<float>(x.begin() + 1, x.end()), call);
  }
}

struct OpEntry {
  const char* produces;  // comma-separated op names the check reports
  void (*check)(Context&);
};
constexpr OpEntry kOps[] = {
    {"embed", check_embed},
    {"rms_norm", check_rms_norm},
    {"matmul", check_matmul},
    {"project,project+norm,matmul_add,gated_matmul,gated_matmul+norm,gated_matmul_gelu,"
     "gated_matmul_gelu+norm",
     check_fused_matmuls},
    {"rope", check_rope},
    {"store_kv,rope_store_kv,attention,rope_store_attention", check_kv_and_attention},
    {"swiglu,geglu,add,scale,softcap", check_elementwise},
    {"add_bias", check_add_bias},
    {"gather_rows", check_gather_rows},
    {"copy", check_copy},
};

}  // namespace

const std::vector<std::string>& harness_ops() {
  // The table's names in order, fused variants next to the op they extend.
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> names;
    for (const OpEntry& e : kOps) {
      std::stringstream produces(e.produces);
      for (std::string name; std::getline(produces, name, ',');) names.push_back(name);
    }
    return names;
  }();
  return ops;
}

double nmse(const std::vector<float>& a, const std::vector<float>& b) {
  double err = 0.0, ref = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (!std::isfinite(b[i])) continue;  // NaN inputs: finite_where_reference_is checks these
    const double d = static_cast<double>(a[i]) - b[i];
    err += d * d;
    ref += static_cast<double>(b[i]) * b[i];
  }
  if (a.size() != b.size()) return INFINITY;
  if (ref == 0.0) return err == 0.0 ? 0.0 : INFINITY;
  return err / ref;
}

std::vector<OpCheck> run_op_harness(Backend& backend, const HarnessOptions& options) {
  Context ctx{backend, options, Rng(options.seed), {}};
  for (const OpEntry& e : kOps) {
    const std::string produces = std::string(",") + e.produces + ",";
    if (!options.op_filter.empty() &&
        produces.find("," + options.op_filter + ",") == std::string::npos) {
      continue;
    }
    e.check(ctx);
  }
  std::erase_if(ctx.checks, [&](const OpCheck& c) {
    return !options.op_filter.empty() && c.op != options.op_filter;
  });
  return std::move(ctx.checks);
}

}  // namespace concord::parity
