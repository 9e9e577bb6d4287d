#include "parity/op_harness.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>

#include "backends/cpu/reference_ops.h"
#include "quant/quant.h"
#include "util/half.h"
#include "util/rng.h"

namespace concord::parity {
namespace {

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

std::vector<float> gaussian(Rng& rng, int64_t n, float scale = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = scale * rng.normal();
  return v;
}

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

struct Context {
  Backend& backend;
  const HarnessOptions& options;
  Rng rng;
  std::vector<OpCheck> checks;

  // No NaN or Inf in either output, unless the inputs hold a NaN on purpose (`nan_inputs`):
  // then exactly where the reference has them.
  void finish(OpCheck c, const std::vector<float>& got, const std::vector<float>& want,
              const std::function<void()>& call, bool nan_inputs = false) {
    c.finite =
        nan_inputs ? finite_where_reference_is(got, want) : all_finite(got) && all_finite(want);
    c.nmse = nmse(got, want);
    if (options.perf) c.seconds = time_per_call(backend, call);
    checks.push_back(std::move(c));
  }
};

// Weight n_in sizes valid for a type: multiples of its block size, odd block counts too,
// and for block formats rows of 4096 to 8191 and of 8192 or more (backends may take other
// paths there: the CUDA decode kernel splits rows of >= 4096 over more warps in launches of
// few rows, and reads activations from global memory for rows of >= 8192). 2304, a multiple
// of 256 but not of 1024, gives legacy rows that the CUDA streaming kernel copies in several
// pieces (of 1024 or 2048 elements), the last one partial.
std::vector<int64_t> input_widths(GgmlType type) {
  const int64_t block = type_info(type).block_size;
  if (block == 256) return {256, 768, 4352, 8448};
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

std::vector<float> cache_to_f32(const std::vector<uint8_t>& bytes, KvType type) {
  std::vector<float> out(bytes.size() / (type == KvType::F32 ? 4 : 2));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = reference::read_kv(bytes.data(), type, static_cast<int64_t>(i));
  return out;
}

// A KV cache of `values` random values in type kv, as bytes.
std::vector<uint8_t> random_cache(Rng& rng, KvType kv, size_t values) {
  const std::vector<float> v = gaussian(rng, static_cast<int64_t>(values));
  std::vector<uint8_t> bytes(values * (kv == KvType::F32 ? 4 : 2));
  for (size_t i = 0; i < values; ++i) {
    if (kv == KvType::F32) {
      reinterpret_cast<float*>(bytes.data())[i] = v[i];
    } else {
      reinterpret_cast<uint16_t*>(bytes.data())[i] = f32_to_f16(v[i]);
    }
  }
  return bytes;
}

// An attention problem on the backend: K and V caches starting as `history`, the batch's
// new K and V rows, its queries, slots and positions, and room for the output.
struct DeviceAttention {
  Guarded k_cache, v_cache, k, v, q, slots, positions, out;
  DeviceAttention(Backend& b, const std::vector<uint8_t>& history, const std::vector<float>& k_rows,
                  const std::vector<float>& v_rows, const std::vector<float>& queries,
                  const std::vector<int32_t>& batch_slots,
                  const std::vector<int32_t>& batch_positions)
      : k_cache(Guarded::of(b, history)),
        v_cache(Guarded::of(b, history)),
        k(Guarded::of(b, k_rows)),
        v(Guarded::of(b, v_rows)),
        q(Guarded::of(b, queries)),
        slots(Guarded::of(b, batch_slots)),
        positions(Guarded::of(b, batch_positions)),
        out(b, nullptr, queries.size() * sizeof(float)) {}
  KvLayer cache(KvType kv, int64_t n_ctx, int64_t kv_width) const {
    return {k_cache.ptr<void>(), v_cache.ptr<void>(), kv, n_ctx, kv_width};
  }
  BatchView batch(int n, int run_slot = -1, int run_first = -1) const {
    return {nullptr, positions.ptr<int32_t>(), slots.ptr<int32_t>(), n, run_slot, run_first};
  }
};

// Bytes and flops of attending from `positions`: every visible key's K and V row once, q
// read and out written.
void set_attention_cost(OpCheck& check, const std::vector<int32_t>& positions,
                        const AttentionParams& a, KvType kv) {
  int64_t keys = 0;
  for (int32_t p : positions) keys += p + 1 - reference::first_visible_position(p, a);
  const int64_t q_values = static_cast<int64_t>(positions.size()) * a.n_head * a.head_dim;
  const int64_t kv_width = static_cast<int64_t>(a.n_head_kv) * a.head_dim;
  check.bytes =
      static_cast<double>(keys * kv_width * 2 * (kv == KvType::F32 ? 4 : 2) + q_values * 8);
  check.flops = 4.0 * keys * a.n_head * a.head_dim;
}

void check_prefill_run_attention(Context& ctx);

// The fused rope_store_kv + attention of one token (a decode step: slot, position) over the
// cache `history`, with interleaved and neox pairs (half the head rotated): its output and
// the cache after, against reference rope, store_kv and attention. q and k are scratch to the
// op, so they are not compared.
void check_rope_store_attention(Context& ctx, const std::vector<uint8_t>& history, KvType kv,
                                int64_t n_ctx, const AttentionParams& ap, int32_t position,
                                int32_t slot, const std::string& shape) {
  const int64_t kv_width = static_cast<int64_t>(ap.n_head_kv) * ap.head_dim;
  const std::vector<float> q = gaussian(ctx.rng, static_cast<int64_t>(ap.n_head) * ap.head_dim),
                           k = gaussian(ctx.rng, kv_width), v = gaussian(ctx.rng, kv_width);
  const std::vector<int32_t> slots = {slot}, positions = {position};
  const BatchView host_batch{nullptr, positions.data(), slots.data(), 1};
  for (const bool neox : {false, true}) {
    const RopeParams rp{neox ? ap.head_dim / 2 : ap.head_dim, 10000.0f, 1.0f, neox};
    std::vector<float> roped_q = q, roped_k = k, want(q.size());
    std::vector<uint8_t> want_k = history, want_v = history;
    const KvLayer host_cache{want_k.data(), want_v.data(), kv, n_ctx, kv_width};
    reference::rope(roped_q.data(), host_batch, ap.n_head, ap.head_dim, rp);
    reference::rope(roped_k.data(), host_batch, ap.n_head_kv, ap.head_dim, rp);
    reference::store_kv(host_cache, roped_k.data(), v.data(), host_batch);
    reference::attention(host_cache, roped_q.data(), host_batch, ap, want.data());

    Guarded k_cache = Guarded::of(ctx.backend, history),
            v_cache = Guarded::of(ctx.backend, history);
    Guarded dq = Guarded::of(ctx.backend, q), dk = Guarded::of(ctx.backend, k),
            dv = Guarded::of(ctx.backend, v), dslot = Guarded::of(ctx.backend, slots),
            dpos = Guarded::of(ctx.backend, positions);
    Guarded out(ctx.backend, nullptr, q.size() * sizeof(float));
    const KvLayer cache{k_cache.ptr<void>(), v_cache.ptr<void>(), kv, n_ctx, kv_width};
    const BatchView batch{nullptr, dpos.ptr<int32_t>(), dslot.ptr<int32_t>(), 1};
    auto attend = [&] {
      ctx.backend.rope_store_attention(dq.ptr<float>(), dk.ptr<float>(), dv.ptr<float>(), cache,
                                       batch, ap, rp, out.ptr<float>());
    };
    attend();
    OpCheck c{"rope_store_attention", std::string(kv_type_name(kv)),
              fmt::format("{} n_rot={}{}", shape, rp.n_rot, neox ? " neox" : "")};
    c.threshold = kAccumulating;
    set_attention_cost(c, positions, ap, kv);
    std::vector<float> got = out.read<float>(c.guards_intact);
    for (const Guarded* g : {&k_cache, &v_cache}) {
      const auto part = cache_to_f32(g->read<uint8_t>(c.guards_intact), kv);
      got.insert(got.end(), part.begin(), part.end());
    }
    for (const std::vector<uint8_t>* g : {&want_k, &want_v}) {
      const auto part = cache_to_f32(*g, kv);
      want.insert(want.end(), part.begin(), part.end());
    }
    // Timing reruns may rope q and k again (where the op is not fused); the first result is
    // the one checked.
    ctx.finish(c, got, want, attend);
  }
}

void check_kv_and_attention(Context& ctx) {
  struct Case {
    int n_head, n_head_kv, head_dim, n_ctx;
    int window = 0;        // sliding window (0: global)
    float softcap = 0.0f;  // score soft-capping (0: none)
    int32_t later = 0;     // > 0: slots 0 and 1 sit this far along a ring of n_ctx rows
  };
  const Case cases[] = {
      {4, 4, 64, 40},
      {8, 2, 64, 40},
      {6, 1, 36, 300},
      {4, 1, 256, 48, 16, 50.0f, 100},  // Gemma-like: 256-wide heads, window in a ring
      {4, 2, 64, 40, 8},                // window inside a full-length cache (a mask)
      // Long contexts, where CUDA splits a decode token's keys over blocks (flash-decoding):
      // a global layer, and a window wrapping around its ring.
      {8, 2, 128, 2500},
      {8, 2, 128, 1024, 700, 0.0f, 3400},
  };
  for (KvType kv : ctx.backend.capabilities().kv_types) {
    for (const Case& ac : cases) {
      const int64_t kv_width = static_cast<int64_t>(ac.n_head_kv) * ac.head_dim;
      const int n_slots = 3;
      const size_t element = kv == KvType::F32 ? 4 : 2;
      const size_t cache_bytes = element * n_slots * ac.n_ctx * kv_width;
      // A ragged batch: slot 0 continues at 30, slot 2 starts a prefill, slot 1 decodes.
      const std::vector<int32_t> slots = {0, 2, 2, 2, 1, 0};
      const int32_t last = ac.later > 0 ? ac.later + 7 : ac.n_ctx - 1;
      const std::vector<int32_t> positions = {ac.later + 30, 0, 1, 2, last, ac.later + 31};
      const int n = static_cast<int>(slots.size());
      // Fill the cache with earlier history (random), then store this batch on top.
      const std::vector<uint8_t> history = random_cache(ctx.rng, kv, cache_bytes / element);
      const std::vector<float> k = gaussian(ctx.rng, n * kv_width),
                               v = gaussian(ctx.rng, n * kv_width);
      const std::vector<float> q =
          gaussian(ctx.rng, static_cast<int64_t>(n) * ac.n_head * ac.head_dim);
      std::vector<uint8_t> want_k = history, want_v = history;
      const KvLayer host_cache{want_k.data(), want_v.data(), kv, ac.n_ctx, kv_width};
      const BatchView host_batch{nullptr, positions.data(), slots.data(), n};
      reference::store_kv(host_cache, k.data(), v.data(), host_batch);
      const AttentionParams ap{ac.n_head,   ac.n_head_kv,
                               ac.head_dim, 1.0f / std::sqrt(static_cast<float>(ac.head_dim)),
                               ac.window,   ac.softcap};
      std::vector<float> want_out(q.size());
      reference::attention(host_cache, q.data(), host_batch, ap, want_out.data());

      DeviceAttention dev(ctx.backend, history, k, v, q, slots, positions);
      const KvLayer cache = dev.cache(kv, ac.n_ctx, kv_width);
      const BatchView batch = dev.batch(n);
      const std::string shape =
          fmt::format("heads={}/{} dim={} ctx={} n={} window={} softcap={} from={}", ac.n_head,
                      ac.n_head_kv, ac.head_dim, ac.n_ctx, n, ac.window, ac.softcap, ac.later);

      auto store = [&] {
        ctx.backend.store_kv(cache, dev.k.ptr<float>(), dev.v.ptr<float>(), batch);
      };
      store();
      OpCheck s{"store_kv", std::string(kv_type_name(kv)), shape};
      s.threshold = kElementwise;
      s.bytes = static_cast<double>((k.size() + v.size()) * (4 + element));
      const auto got_k = cache_to_f32(dev.k_cache.read<uint8_t>(s.guards_intact), kv);
      const auto got_v = cache_to_f32(dev.v_cache.read<uint8_t>(s.guards_intact), kv);
      std::vector<float> got_kv = got_k, want_kv = cache_to_f32(want_k, kv);
      got_kv.insert(got_kv.end(), got_v.begin(), got_v.end());
      const auto want_vv = cache_to_f32(want_v, kv);
      want_kv.insert(want_kv.end(), want_vv.begin(), want_vv.end());
      ctx.finish(s, got_kv, want_kv, store);

      // The fused rope of q and k + store, against reference rope, rope, store_kv.
      {
        const RopeParams rp{ac.n_head_kv == 1 ? ac.head_dim / 2 : ac.head_dim, 10000.0f, 1.0f,
                            ac.n_head != ac.n_head_kv};
        std::vector<float> want_q = q, want_rk = k;
        std::vector<uint8_t> want_k2 = history, want_v2 = history;
        reference::rope(want_q.data(), host_batch, ac.n_head, ac.head_dim, rp);
        reference::rope(want_rk.data(), host_batch, ac.n_head_kv, ac.head_dim, rp);
        reference::store_kv({want_k2.data(), want_v2.data(), kv, ac.n_ctx, kv_width},
                            want_rk.data(), v.data(), host_batch);
        Guarded k_cache = Guarded::of(ctx.backend, history),
                v_cache = Guarded::of(ctx.backend, history);
        Guarded rq = Guarded::of(ctx.backend, q), rk = Guarded::of(ctx.backend, k);
        const KvLayer fresh{k_cache.ptr<void>(), v_cache.ptr<void>(), kv, ac.n_ctx, kv_width};
        ctx.backend.rope_store_kv(rq.ptr<float>(), rk.ptr<float>(), dev.v.ptr<float>(), fresh,
                                  batch, ap, rp);
        OpCheck r{"rope_store_kv", std::string(kv_type_name(kv)),
                  fmt::format("{} n_rot={}{}", shape, rp.n_rot, rp.neox ? " neox" : "")};
        r.threshold = kElementwise;
        r.bytes = static_cast<double>((q.size() + 2 * k.size()) * 4 + v.size() * (4 + element));
        std::vector<float> got = rq.read<float>(r.guards_intact), want = want_q;
        for (const Guarded* g : {&k_cache, &v_cache}) {
          const auto part = cache_to_f32(g->read<uint8_t>(r.guards_intact), kv);
          got.insert(got.end(), part.begin(), part.end());
        }
        for (const std::vector<uint8_t>* c : {&want_k2, &want_v2}) {
          const auto part = cache_to_f32(*c, kv);
          want.insert(want.end(), part.begin(), part.end());
        }
        // Timing re-rotates the same buffers; only the first result is checked.
        ctx.finish(r, got, want, [&] {
          ctx.backend.rope_store_kv(rq.ptr<float>(), rk.ptr<float>(), dev.v.ptr<float>(), fresh,
                                    batch, ap, rp);
        });
      }

      auto attend = [&] {
        ctx.backend.attention(cache, dev.q.ptr<float>(), batch, ap, dev.out.ptr<float>());
      };
      attend();
      OpCheck a{"attention", std::string(kv_type_name(kv)), shape};
      a.threshold = kAccumulating;
      set_attention_cost(a, positions, ap, kv);
      const auto got = dev.out.read<float>(a.guards_intact);
      ctx.finish(a, got, want_out, attend);

      // One token alone, as a decode step runs it (backends have single-token kernels): the
      // batch's token at `last` in slot 1, over the same cache.
      {
        constexpr size_t kToken = 4;
        const int64_t q_width = static_cast<int64_t>(ac.n_head) * ac.head_dim;
        const std::vector<int32_t> one_slot = {slots[kToken]}, one_position = {positions[kToken]};
        const std::vector<float> one_q(q.begin() + kToken * q_width,
                                       q.begin() + (kToken + 1) * q_width);
        std::vector<float> want_one(one_q.size());
        reference::attention(host_cache, one_q.data(),
                             {nullptr, one_position.data(), one_slot.data(), 1}, ap,
                             want_one.data());
        Guarded dq1 = Guarded::of(ctx.backend, one_q), dslot1 = Guarded::of(ctx.backend, one_slot),
                dpos1 = Guarded::of(ctx.backend, one_position);
        Guarded out1(ctx.backend, nullptr, one_q.size() * sizeof(float));
        const BatchView one{nullptr, dpos1.ptr<int32_t>(), dslot1.ptr<int32_t>(), 1};
        auto attend_one = [&] {
          ctx.backend.attention(cache, dq1.ptr<float>(), one, ap, out1.ptr<float>());
        };
        attend_one();
        OpCheck d{"attention", std::string(kv_type_name(kv)),
                  fmt::format("heads={}/{} dim={} ctx={} n=1 at={} window={} softcap={}", ac.n_head,
                              ac.n_head_kv, ac.head_dim, ac.n_ctx, one_position[0], ac.window,
                              ac.softcap)};
        d.threshold = kAccumulating;
        set_attention_cost(d, one_position, ap, kv);
        const auto got_one = out1.read<float>(d.guards_intact);
        ctx.finish(d, got_one, want_one, attend_one);
        check_rope_store_attention(ctx, history, kv, ac.n_ctx, ap, positions[kToken], slots[kToken],
                                   d.shape);
      }
    }
  }
  check_prefill_run_attention(ctx);
}

// Attention of a prompt's prefill: one run of a slot's consecutive positions, known to be
// one on the host (BatchView::run_slot), which backends may attend on another path (CUDA:
// tensor cores for runs of 64 tokens and more). Fresh and continuing prompts, soft-capping.
void check_prefill_run_attention(Context& ctx) {
  struct Case {
    int n_head, n_head_kv, head_dim, first, n;
    float softcap = 0.0f;
  };
  const Case cases[] = {{8, 2, 128, 0, 100}, {8, 2, 128, 60, 100}, {4, 1, 256, 37, 70, 50.0f}};
  for (KvType kv : ctx.backend.capabilities().kv_types) {
    for (const Case& rc : cases) {
      const int64_t kv_width = static_cast<int64_t>(rc.n_head_kv) * rc.head_dim;
      const int n_ctx = rc.first + rc.n + 3, slot = 1;  // slot 1 of 2
      const std::vector<uint8_t> history = random_cache(ctx.rng, kv, 2 * n_ctx * kv_width);
      std::vector<int32_t> positions(static_cast<size_t>(rc.n)), slots(positions.size(), slot);
      for (int i = 0; i < rc.n; ++i) positions[static_cast<size_t>(i)] = rc.first + i;
      const std::vector<float> k = gaussian(ctx.rng, rc.n * kv_width),
                               v = gaussian(ctx.rng, rc.n * kv_width),
                               q = gaussian(ctx.rng,
                                            static_cast<int64_t>(rc.n) * rc.n_head * rc.head_dim);
      const AttentionParams ap{rc.n_head,   rc.n_head_kv,
                               rc.head_dim, 1.0f / std::sqrt(static_cast<float>(rc.head_dim)),
                               0,           rc.softcap};
      std::vector<uint8_t> want_k = history, want_v = history;
      const KvLayer host_cache{want_k.data(), want_v.data(), kv, n_ctx, kv_width};
      const BatchView host_batch{nullptr, positions.data(), slots.data(), rc.n, slot, rc.first};
      reference::store_kv(host_cache, k.data(), v.data(), host_batch);
      std::vector<float> want(q.size());
      reference::attention(host_cache, q.data(), host_batch, ap, want.data());

      DeviceAttention dev(ctx.backend, history, k, v, q, slots, positions);
      const KvLayer cache = dev.cache(kv, n_ctx, kv_width);
      const BatchView batch = dev.batch(rc.n, slot, rc.first);
      ctx.backend.store_kv(cache, dev.k.ptr<float>(), dev.v.ptr<float>(), batch);
      auto attend = [&] {
        ctx.backend.attention(cache, dev.q.ptr<float>(), batch, ap, dev.out.ptr<float>());
      };
      attend();
      OpCheck a{"attention", std::string(kv_type_name(kv)),
                fmt::format("heads={}/{} dim={} run n={} from={} softcap={}", rc.n_head,
                            rc.n_head_kv, rc.head_dim, rc.n, rc.first, rc.softcap)};
      a.threshold = kAccumulating;
      set_attention_cost(a, positions, ap, kv);
      const auto got = dev.out.read<float>(a.guards_intact);
      ctx.finish(a, got, want, attend);
    }
  }
}

// The fused projections (project, matmul_add, gated_matmul) against the plain reference
// ops they stand for, for every weight type, at a decode shape and batched ones, with and
// without an input RMS norm.
void check_fused_matmuls(Context& ctx) {
  constexpr float kEps = 1e-5f;
  for (GgmlType type : ctx.backend.capabilities().weight_types) {
    // Every width but the narrowest of the block formats (a row of a few blocks).
    const std::vector<int64_t> widths = input_widths(type);
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
          w.push_back(quantize(type, gaussian(ctx.rng, n_in * rows)));
          dw.push_back(Guarded::of(ctx.backend, w[i]));
          dout.emplace_back(ctx.backend, nullptr, static_cast<size_t>(rows * n) * sizeof(float));
          weights.push_back({type, n_in, rows, dw[i].ptr<void>()});
        }
        // want[i] = W_i · input, for the input itself or its normalised rows.
        auto reference_products = [&](const std::vector<float>& input) {
          std::vector<std::vector<float>> want(3);
          for (int i = 0; i < 3; ++i) {
            want[i].resize(static_cast<size_t>(weights[i].n_out * n));
            reference::matmul({type, n_in, weights[i].n_out, w[i].data()}, input.data(),
                              want[i].data(), n);
          }
          return want;
        };
        const double weight_bytes = static_cast<double>(w[0].size() + w[1].size() + w[2].size());
        auto finish = [&](std::string op, const std::vector<float>& got,
                          const std::vector<float>& expected, bool guards,
                          const std::function<void()>& call) {
          OpCheck c{std::move(op), std::string(type_name(type)),
                    fmt::format("in={} out={} n={}", n_in, n_out, n)};
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
