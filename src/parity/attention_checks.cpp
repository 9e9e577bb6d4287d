// The op harness's KV cache and attention checks: store_kv, rope_store_kv, attention
// (ragged batches, single tokens, windows, soft-capping, long contexts split on CUDA, prompt
// runs) and the fused rope_store_attention, against the reference ops.
#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <initializer_list>

#include "backends/cpu/reference_ops.h"
#include "parity/harness_support.h"
#include "util/half.h"

namespace concord::parity::harness {
namespace {

std::vector<float> cache_to_f32(const std::vector<uint8_t>& bytes, KvType type) {
  std::vector<float> out(bytes.size() / (type == KvType::F32 ? 4 : 2));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = reference::read_kv(bytes.data(), type, static_cast<int64_t>(i));
  return out;
}

// Appends the backend's K and V caches (as floats) to `got` and the reference's to `want`:
// what an op stored, for a check of its own or after the op's output.
void append_caches(std::vector<float>& got, std::vector<float>& want,
                   std::initializer_list<std::reference_wrapper<const Guarded>> device,
                   std::initializer_list<std::reference_wrapper<const std::vector<uint8_t>>> host,
                   KvType kv, bool& guards_intact) {
  for (const Guarded& g : device) {
    const auto part = cache_to_f32(g.read<uint8_t>(guards_intact), kv);
    got.insert(got.end(), part.begin(), part.end());
  }
  for (const std::vector<uint8_t>& bytes : host) {
    const auto part = cache_to_f32(bytes, kv);
    want.insert(want.end(), part.begin(), part.end());
  }
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

    DeviceAttention dev(ctx.backend, history, k, v, q, slots, positions);
    const KvLayer cache = dev.cache(kv, n_ctx, kv_width);
    const BatchView batch = dev.batch(1);
    auto attend = [&] {
      ctx.backend.rope_store_attention(dev.q.ptr<float>(), dev.k.ptr<float>(), dev.v.ptr<float>(),
                                       cache, batch, ap, rp, dev.out.ptr<float>());
    };
    attend();
    OpCheck c{"rope_store_attention", std::string(kv_type_name(kv)),
              fmt::format("{} n_rot={}{}", shape, rp.n_rot, neox ? " neox" : "")};
    c.threshold = kAccumulating;
    set_attention_cost(c, positions, ap, kv);
    // The output and the stored key and value as checks of their own: in one, a long
    // context's cache would drown the output's error.
    OpCheck stored = c;
    stored.shape += " stored K, V";
    stored.threshold = kElementwise;
    std::vector<float> got_kv, want_kv;
    append_caches(got_kv, want_kv, {dev.k_cache, dev.v_cache}, {want_k, want_v}, kv,
                  stored.guards_intact);
    // Timing reruns may rope q and k again (where the op is not fused); the first result is
    // the one checked.
    const std::vector<float> got = dev.out.read<float>(c.guards_intact);
    ctx.finish(c, got, want, attend);
    ctx.finish(stored, got_kv, want_kv, attend);
  }
}

// Attention of a prompt's prefill: one run of a slot's consecutive positions, known to be
// one on the host (BatchView::run_slot), which backends may attend on another path (CUDA:
// tensor cores for runs of 64 tokens and more, tiles of tokens below). Fresh and continuing
// prompts, soft-capping, and a long batch not declared a run (CUDA: tiles of tokens, as
// ragged batches large enough to fill the SMs).
void check_prefill_run_attention(Context& ctx) {
  struct Case {
    int n_head, n_head_kv, head_dim, first, n;
    float softcap = 0.0f;
    bool declared = true;  // the batch's BatchView names its run
  };
  const Case cases[] = {{8, 2, 128, 0, 100},
                        {8, 2, 128, 60, 100},
                        {4, 1, 256, 37, 70, 50.0f},
                        {8, 2, 128, 20, 40},
                        {8, 8, 64, 10, 200, 0.0f, false}};
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
      const BatchView batch = rc.declared ? dev.batch(rc.n, slot, rc.first) : dev.batch(rc.n);
      ctx.backend.store_kv(cache, dev.k.ptr<float>(), dev.v.ptr<float>(), batch);
      auto attend = [&] {
        ctx.backend.attention(cache, dev.q.ptr<float>(), batch, ap, dev.out.ptr<float>());
      };
      attend();
      OpCheck a{"attention", std::string(kv_type_name(kv)),
                fmt::format("heads={}/{} dim={} {} n={} from={} softcap={}", rc.n_head,
                            rc.n_head_kv, rc.head_dim, rc.declared ? "run" : "undeclared run", rc.n,
                            rc.first, rc.softcap)};
      a.threshold = kAccumulating;
      set_attention_cost(a, positions, ap, kv);
      const auto got = dev.out.read<float>(a.guards_intact);
      ctx.finish(a, got, want, attend);
    }
  }
}

}  // namespace

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
        append_caches(got, want, {k_cache, v_cache}, {want_k2, want_v2}, kv, r.guards_intact);
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

}  // namespace concord::parity::harness
